//! The identity, leaf and hash vectors of `shared/spec/merkle.md`, byte for byte, plus the hex
//! text forms. The tree vectors (claim trees, proofs) are in `sealer::merkle::tests_vectors`.

use super::*;

#[test]
fn keccak_vectors() {
    assert_eq!(to_hex(&keccak256(b"")), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    assert_eq!(to_hex(&keccak256(b"abc")), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

#[test]
fn user_hash_vectors() {
    let cases = [
        ("dizzybreezyy", "00211351fa907cf7cc37110fd2e2c61551049549dbe40818f00d305b53d199b3"),
        ("jamgrace18", "d425ec74881bfd03322268c9826f2756cb47e9e7d83a4efbe1dc95cfc1095d0b"),
        ("0000899", "2fedd38072218cb16745a3ec16f04679737bee28804d01a5288ac8e56d6cc37f"),
    ];
    for (login, expected) in cases {
        assert_eq!(to_hex(&user_hash(login)), expected, "login {login}");
    }
    assert_eq!(user_hash("DizzyBreezyy"), user_hash("dizzybreezyy"));
}

#[test]
fn participation_leaf_vector() {
    let leaf = participation_leaf(&user_hash("dizzybreezyy"), "jasontheween", 1761753600);
    assert_eq!(to_hex(&leaf), "00bfd67f79c8a39b4fb73888771617b0130f1ac0c2689f796bf2502895991877");
}

#[test]
fn channel_key_vector() {
    let expected = "8e616fe4f6f3bdbede990f33162b2bebe8c08ef55195c987a4c8c8d4fb4cae10";
    assert_eq!(to_hex(&channel_key("lacy")), expected);
    assert_eq!(to_hex(&channel_key("Lacy")), expected);
}

#[test]
fn claim_id_format() {
    assert_eq!(claim_id("stableronaldo", "Alice"), "twitch:stableronaldo:alice");
}

#[test]
fn hex_forms_round_trip() {
    let x = keccak256(b"abc");
    let plain = to_hex(&x);
    let prefixed = to_hex0x(&x);
    assert_eq!(plain.len(), 64);
    assert_eq!(prefixed, format!("0x{plain}"));
    assert_eq!(plain, plain.to_ascii_lowercase());
    assert_eq!(parse_hash(&plain), Ok(x));
    assert_eq!(parse_hash(&prefixed), Ok(x));
    assert_eq!(parse_hash(&plain.to_ascii_uppercase()), Ok(x));
    assert_eq!(parse_hash(&format!("0X{}", plain.to_ascii_uppercase())), Ok(x));
}

#[test]
fn parse_hash_reports_what_is_wrong() {
    let plain = to_hex(&keccak256(b"abc"));
    assert_eq!(parse_hash(""), Err(HashParseError::WrongLength { found: 0 }));
    assert_eq!(parse_hash(&format!("0x{}", &plain[..63])), Err(HashParseError::WrongLength { found: 63 }));
    assert_eq!(parse_hash(&format!("{plain}00")), Err(HashParseError::WrongLength { found: 66 }));
    let mut bad = plain.clone();
    bad.replace_range(10..11, "g");
    assert_eq!(parse_hash(&format!("0x{bad}")), Err(HashParseError::NonHex { ch: 'g', position: 12 }));
    let mut non_ascii = plain[..63].to_string();
    non_ascii.push('é');
    assert_eq!(parse_hash(&non_ascii), Err(HashParseError::NonHex { ch: 'é', position: 63 }));
    let message = parse_hash("0x12").unwrap_err().to_string();
    assert!(message.contains("64 hex digits") && message.contains("got 2"), "{message}");
}
