//! Every vector of `shared/spec/merkle.md`, byte for byte, plus the hex text forms.

use super::*;

fn h(s: &str) -> Hash32 {
    parse_hash(s).expect("test vector is valid hex")
}

const AMOUNTS: [u64; 5] = [10000, 15000, 20000, 12500, 18000];
const LOGINS: [&str; 5] = ["alice", "bob", "charlie", "dave", "eve"];

fn claim_ids() -> Vec<String> {
    LOGINS.iter().map(|l| claim_id("stableronaldo", l)).collect()
}

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
fn claim_tree_vector() {
    let leaves: Vec<Hash32> =
        claim_ids().iter().enumerate().map(|(i, id)| claim_leaf(i as u32, AMOUNTS[i], id)).collect();
    assert_eq!(leaves[0], h("940e0313a9a961801c16eb013ee48acda732d92c826862379e81306ff54e13ea"));
    let tree = MerkleTree::build(leaves.clone()).expect("five leaves");
    assert_eq!(tree.root(), h("43423ecf1b192af45b9d20964af7dd85d7bc7527c7ceda70745a4e8724680e11"));
    let leaf4 = leaves[4];
    let expected = vec![
        leaf4,
        keccak256(&[leaf4, leaf4].concat()),
        h("181072b8f6649bebf278b8eb099cbc70115c45dd6447bc85bb620255cefd14fa"),
    ];
    assert_eq!(tree.proof(4), Some(expected.clone()));
    assert!(verify(&tree.root(), &leaf4, &expected));
    // The merkletreejs-style proof without the self-sibling fails the on-chain fold.
    assert!(!verify(&tree.root(), &leaf4, &expected[1..]));
}

#[test]
fn wallet_bound_claim_tree_vector() {
    let claimer = h("1af8e7e6e1904ed7f39fcd626a15b111067b7a88f21c8c7c3b1f8aa75e508116");
    let leaves: Vec<Hash32> =
        claim_ids().iter().enumerate().map(|(i, id)| wallet_claim_leaf(&claimer, i as u32, AMOUNTS[i], id)).collect();
    assert_eq!(leaves[0], h("7a9d9cc6022a04edd7d4f0c71202f13619e07245aa3f9d9eb68c1ce3e085bebd"));
    let tree = MerkleTree::build(leaves.clone()).expect("five leaves");
    assert_eq!(tree.root(), h("782d2060c46e129f4c4842b043e3b015a3e468526cabef7f6f2bb59720c12c00"));
    let expected = vec![
        h("0b33b6f719a8a94d84aacdb7181aadca7d9941651e63138b50131df3f20ba611"),
        h("9eae19d48bf7a2897c0bd95b0895851e32f9cc9bbf70719466afeffa8f317101"),
        h("90d67732cc36915e3bdcbbebbc8c240d2a1e8d1ad83001ded986b8c1c4de23bf"),
    ];
    assert_eq!(tree.proof(0), Some(expected.clone()));
    assert!(verify(&tree.root(), &leaves[0], &expected));
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
