//! The bodies `process_vs_node` sends to both implementations, from a seeded generator:
//! valid and invalid records, number and string edge cases, duplicate keys, broken JSON.

use std::fmt::Write as _;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const HEX: &[u8] = b"0123456789abcdefABCDEF";

fn uuid(rng: &mut Rng) -> String {
    let mut out = String::new();
    for (index, len) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if index > 0 {
            out.push('-');
        }
        for _ in 0..len {
            out.push(char::from(HEX[rng.below(HEX.len())]));
        }
    }
    out
}

fn user_id(rng: &mut Rng) -> Option<String> {
    Some(match rng.below(20) {
        0 => return None,
        1 => rng
            .pick(&[
                "null",
                "123",
                "\"\"",
                "\"0192f0c18a2b7c3d8e4f000000000001\"",
                "\"{0192f0c1-8a2b-7c3d-8e4f-000000000001}\"",
                "\"0192f0c1-8a2b-7c3d-8e4f-00000000000g\"",
                "\"0192f0c1-8a2b-7c3d-8e4f-0000000000011\"",
                "\"0192f0c1-8a2b-7c3d-8e4f-00000000001\"",
                "\"\\u0030192f0c1-8a2b-7c3d-8e4f-000000000001\"",
                "[\"0192f0c1-8a2b-7c3d-8e4f-000000000001\"]",
            ])
            .to_string(),
        _ => format!("\"{}\"", uuid(rng)),
    })
}

fn amount(rng: &mut Rng) -> Option<String> {
    Some(match rng.below(12) {
        0 => return None,
        1 | 2 => rng
            .pick(&[
                "5.0",
                "5e2",
                "5E+2",
                "0.5e1",
                "-0",
                "-0.0",
                "-0e3",
                "1e-400",
                "-1e-400",
                "500.0000000000000001",
                "1000000000",
                "1e9",
                "1000000000.00000001",
                "1000000000.0000002",
                "1000000001",
                "5.5",
                "0.1",
                "-1",
                "1e400",
                "-1e400",
                "99999999999999999999",
                "123456789012345678901234567890e-21",
                "\"5\"",
                "null",
                "true",
                "[]",
                "{}",
                "0",
            ])
            .to_string(),
        3 => (rng.next() % 1_000_000_001).to_string(),
        _ => (rng.next() % 50).to_string(),
    })
}

fn currency(rng: &mut Rng) -> Option<String> {
    Some(match rng.below(15) {
        0 => return None,
        1 => rng
            .pick(&[
                "\"eur\"",
                "\"EU\"",
                "\"EURO\"",
                "1",
                "null",
                "\"ÉUR\"",
                "\"\\u0045UR\"",
                "\"E\\u0055R\"",
                "\"E R\"",
                "[\"EUR\"]",
            ])
            .to_string(),
        _ => format!(
            "\"{}\"",
            rng.pick(&["EUR", "USD", "GBP", "JPY", "CHF", "AAA", "ZZZ"])
        ),
    })
}

fn tags(rng: &mut Rng) -> Option<String> {
    const POOL: &[&str] = &[
        "\"a\"",
        "\"b\"",
        "\"c\"",
        "\"10\"",
        "\"9\"",
        "\"_\"",
        "\"-\"",
        "\"a-b_c\"",
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
        "\"__proto__\"",
        "\"constructor\"",
        "\"tostring\"",
        "\"\\u0061\"",
        "\"z\\u005f\"",
    ];
    const BAD: &[&str] = &[
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
        "\"A\"",
        "\"\"",
        "1",
        "null",
        "\"a b\"",
        "\"é\"",
        "\"\\ud800\"",
        "[\"a\"]",
    ];
    Some(match rng.below(15) {
        0 => return None,
        1 => rng
            .pick(&["\"a\"", "null", "{}", "1", "{\"0\":\"a\"}"])
            .to_string(),
        _ => {
            let count = if rng.chance(10) {
                rng.below(11)
            } else {
                rng.below(5)
            };
            let items: Vec<&str> = (0..count)
                .map(|_| {
                    if rng.chance(4) {
                        rng.pick(BAD)
                    } else {
                        rng.pick(POOL)
                    }
                })
                .collect();
            format!("[{}]", items.join(","))
        }
    })
}

fn ts(rng: &mut Rng) -> Option<String> {
    Some(match rng.below(12) {
        0 => return None,
        1 | 2 => rng
            .pick(&[
                "\"2024-02-29T00:00:00Z\"",
                "\"2023-02-29T00:00:00Z\"",
                "\"2024-02-30T00:00:00Z\"",
                "\"1900-02-29T00:00:00Z\"",
                "\"2000-02-29T00:00:00Z\"",
                "\"2024-01-01T24:00:00Z\"",
                "\"2024-01-01T23:59:60Z\"",
                "\"2024-01-01T00:00:00+24:00\"",
                "\"2024-01-01T00:00:00+23:59\"",
                "\"2024-01-01T00:00:00-00:60\"",
                "\"2024-01-01t00:00:00Z\"",
                "\"2024-01-01T00:00:00z\"",
                "\"2024-01-01T00:00:00.123456789Z\"",
                "\"2024-01-01T00:00:00.1234567890Z\"",
                "\"2024-01-01T00:00:00.Z\"",
                "\"2024-01-01T00:00:00\"",
                "\"2024-01-01 00:00:00Z\"",
                "\"2024-01-01T00:00:00Z\\n\"",
                "\"0000-02-29T00:00:00Z\"",
                "\"2024-13-01T00:00:00Z\"",
                "\"2024-00-01T00:00:00Z\"",
                "\"2024-01-00T00:00:00Z\"",
                "\"2024-04-31T00:00:00Z\"",
                "\"2024-01-01T00:00:00\\u005A\"",
                "1700000000",
                "null",
            ])
            .to_string(),
        _ => {
            let year = 1990 + rng.below(60);
            let month = 1 + rng.below(12);
            let day = 1 + rng.below(31);
            let mut text = format!(
                "\"{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
                rng.below(25),
                rng.below(61),
                rng.below(61)
            );
            if rng.chance(30) {
                text.push('.');
                for _ in 0..1 + rng.below(10) {
                    text.push(char::from(b'0' + rng.below(10) as u8));
                }
            }
            if rng.chance(50) {
                text.push('Z');
            } else {
                let sign = if rng.chance(50) { '+' } else { '-' };
                write!(text, "{sign}{:02}:{:02}", rng.below(25), rng.below(61)).unwrap();
            }
            text.push('"');
            text
        }
    })
}

fn space(rng: &mut Rng) -> &'static str {
    if rng.chance(5) {
        rng.pick(&[" ", "\n", "\t", "\r\n  "])
    } else {
        ""
    }
}

/// Makes one field's JSON value, or `None` to leave the field out.
type Generator = fn(&mut Rng) -> Option<String>;

fn record(rng: &mut Rng) -> String {
    if rng.chance(3) {
        return rng
            .pick(&["1", "\"s\"", "null", "[]", "true", "[{}]"])
            .to_string();
    }
    let mut members: Vec<(String, String)> = Vec::new();
    let fields: [(&str, Generator); 5] = [
        ("user_id", user_id),
        ("amount_cents", amount),
        ("currency", currency),
        ("tags", tags),
        ("ts", ts),
    ];
    for (name, generate) in fields {
        if let Some(value) = generate(rng) {
            members.push((format!("\"{name}\""), value));
        }
        // Sometimes the same key twice: the last one counts.
        if rng.chance(3)
            && let Some(value) = generate(rng)
        {
            members.push((format!("\"{name}\""), value));
        }
    }
    if rng.chance(5) {
        members.push((
            "\"extra\"".into(),
            "{\"nested\":[1,2.5e3,{\"a\":null,\"b\":\"\\u00e9\\ud83d\\ude00\"}],\"t\":true}".into(),
        ));
    }
    if rng.chance(2) {
        members.push(("\"amount\\u005fcents\"".into(), "7".into()));
    }
    // Shuffle.
    for index in (1..members.len()).rev() {
        members.swap(index, rng.below(index + 1));
    }
    let mut out = String::from("{");
    for (index, (key, value)) in members.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let (a, b, c) = (space(rng), space(rng), space(rng));
        write!(out, "{a}{key}{b}:{c}{value}").unwrap();
    }
    out.push_str(space(rng));
    out.push('}');
    out
}

fn batch(rng: &mut Rng, count: usize) -> String {
    let records: Vec<String> = (0..count).map(|_| record(rng)).collect();
    format!("{{\"records\":[{}]}}", records.join(","))
}

/// Bytes that broken bodies get in random places.
const MUTATIONS: &[u8] = b"{}[],:\"\\01-.eE+ tfnux\x01\xc3";

pub(super) fn bodies() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    for fixed in [
        "",
        " ",
        "{",
        "[]",
        "null",
        "1",
        "\"x\"",
        "{}",
        "{\"records\":[]}",
        "{\"records\":{}}",
        "{\"records\":null}",
        "{\"records\":[1],\"records\":\"x\"}",
        "{\"records\":\"x\",\"records\":[1]}",
        "{\"re\\u0063ords\":[1]}",
        "\u{feff}{\"records\":[1]}",
        "{\"records\":[1]}\u{0}",
        "{\"records\":[\"\\ud800\\udc00\",\"\\udc00\",\"\\ud800x\"]}",
        "{\"records\":[1e400,-0,1E-9999,0.0]}",
        "{\"records\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    ] {
        bodies.push(fixed.as_bytes().to_vec());
    }
    bodies.push(format!("{{\"records\":[{}]}}", "[".repeat(5000) + &"]".repeat(5000)).into_bytes());
    bodies.push(b"{\"records\":[\"\xff\"]}".to_vec());
    bodies.push(b"{\"records\":[\"\xed\xa0\x80\"]}".to_vec());
    bodies.push(format!("{{\"records\":[{}1]}}", "1,".repeat(10_000)).into_bytes());
    bodies.push(batch(&mut rng, 10_000).into_bytes());
    bodies.push(batch(&mut rng, 2_000).into_bytes());
    for _ in 0..5 {
        // Many invalid records: the list is cut at 100.
        let records: Vec<String> = (0..150 + rng.below(100))
            .map(|_| {
                if rng.chance(80) {
                    "{}".into()
                } else {
                    record(&mut rng)
                }
            })
            .collect();
        bodies.push(format!("{{\"records\":[{}]}}", records.join(",")).into_bytes());
    }
    for _ in 0..250 {
        let count = if rng.chance(10) {
            100 + rng.below(400)
        } else {
            1 + rng.below(40)
        };
        let mut body = batch(&mut rng, count);
        if rng.chance(10) {
            body = format!(" {{\"other\":[1,{{}}],{}", &body[1..]);
        }
        bodies.push(body.into_bytes());
    }
    // Broken JSON: truncated and mutated valid bodies.
    for _ in 0..120 {
        let count = 1 + rng.below(4);
        let mut body = batch(&mut rng, count).into_bytes();
        if rng.chance(40) {
            let cut = rng.below(body.len());
            body.truncate(cut);
        } else {
            for _ in 0..1 + rng.below(2) {
                let at = rng.below(body.len());
                body[at] = MUTATIONS[rng.below(MUTATIONS.len())];
            }
        }
        bodies.push(body);
    }
    bodies
}
