fn main() {
    chatseal::main_entry()
}
