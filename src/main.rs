//! The `chatseal` binary: the command line and everything behind it live in the library
//! ([`chatseal::main_entry`]).

fn main() {
    chatseal::main_entry()
}
