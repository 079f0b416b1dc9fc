//! One pass over the request body: a strict JSON parser (the grammar JSON.parse accepts)
//! that checks and aggregates the records as it reads them, without building a tree.
//!
//! Why not `serde_json::Value`: it must read like JavaScript's JSON.parse, and serde_json
//! does not —
//! - a number too large for a double (`1e400`) is an error for serde_json (the whole body
//!   would be a 400), while JSON.parse reads it as Infinity (that record's
//!   `invalid amount_cents`); here a number is checked against the grammar and its text
//!   read with `str::parse::<f64>` (correctly rounded, like JSON.parse; overflow gives
//!   infinity, underflow ±0);
//! - serde_json rejects lone surrogate escapes (`"\ud800"`), JSON.parse accepts them;
//! - serde_json stops at 128 levels of nesting, JSON.parse (V8's is iterative) does not;
//!   here values nobody reads are skipped with an explicit stack, so depth is bounded by
//!   the 8 MiB body only.
//!
//! As JSON.parse does, the last of duplicate keys wins: a field's later value replaces
//! the earlier one (including a second `records`, which discards the first).
//! The body must be UTF-8 (Node's route checks `isUtf8` first; the same 400).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::record::{self, MAX_TAGS, RecordError};
use super::{MAX_INVALID_LISTED, MAX_RECORDS};

/// A syntax error; the body is `Invalid JSON body`.
#[derive(Debug)]
pub struct Syntax;

type Parsed<T> = Result<T, Syntax>;

/// The top-level value of a syntactically valid body.
pub enum TopLevel<'a> {
    NotAnObject,
    /// An object; `None` when it has no `records` member that is an array.
    Object(Option<Batch<'a>>),
}

/// The records array, checked and grouped (only the first `MAX_RECORDS` are grouped;
/// a longer batch is refused anyway).
#[derive(Default)]
pub struct Batch<'a> {
    pub records: usize,
    pub invalid_count: usize,
    /// The first `MAX_INVALID_LISTED` invalid records.
    pub invalid: Vec<(usize, RecordError)>,
    pub by_currency: BTreeMap<[u8; 3], Vec<u32>>,
    pub by_tag: BTreeMap<Cow<'a, str>, Vec<u32>>,
}

impl<'a> Batch<'a> {
    fn add(
        &mut self,
        index: usize,
        outcome: Result<(u32, [u8; 3]), RecordError>,
        tags: &[Cow<'a, str>],
    ) {
        let (amount, currency) = match outcome {
            Ok(valid) => valid,
            Err(error) => {
                self.invalid_count += 1;
                if self.invalid.len() < MAX_INVALID_LISTED {
                    self.invalid.push((index, error));
                }
                return;
            }
        };
        self.by_currency.entry(currency).or_default().push(amount);
        for (at, tag) in tags.iter().enumerate() {
            if tags[..at].contains(tag) {
                continue; // a record counts once per distinct tag
            }
            match self.by_tag.get_mut(tag.as_ref()) {
                Some(amounts) => amounts.push(amount),
                None => {
                    self.by_tag.insert(tag.clone(), vec![amount]);
                }
            }
        }
    }
}

/// A string token: its text between the quotes, escapes not yet decoded.
#[derive(Clone, Copy)]
struct RawStr<'a> {
    raw: &'a str,
    escaped: bool,
}

impl<'a> RawStr<'a> {
    fn decode(self) -> Cow<'a, str> {
        if self.escaped {
            Cow::Owned(unescape(self.raw))
        } else {
            Cow::Borrowed(self.raw)
        }
    }
}

fn hex4(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |value, &byte| {
        value * 16 + char::from(byte).to_digit(16).unwrap_or(0)
    })
}

/// Decodes the escapes of a string the parser has checked. A lone surrogate (JSON.parse
/// keeps it in the string) becomes U+FFFD: every check on strings is ASCII-only, so
/// either fails the same way.
fn unescape(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            let end = bytes[at..]
                .iter()
                .position(|&byte| byte == b'\\')
                .map_or(bytes.len(), |offset| at + offset);
            out.push_str(&raw[at..end]);
            at = end;
            continue;
        }
        let simple = match bytes[at + 1] {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            _ => {
                // `\uXXXX`, checked by the parser.
                let unit = hex4(&bytes[at + 2..at + 6]);
                at += 6;
                if (0xD800..0xDC00).contains(&unit)
                    && bytes.get(at..at + 2) == Some(b"\\u".as_slice())
                {
                    let low = hex4(&bytes[at + 2..at + 6]);
                    if (0xDC00..0xE000).contains(&low) {
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        at += 6;
                        continue;
                    }
                }
                out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
                continue;
            }
        };
        out.push(simple);
        at += 2;
    }
    out
}

#[derive(Clone, Copy)]
enum Field {
    UserId,
    AmountCents,
    Currency,
    Tags,
    Ts,
    Other,
}

fn field(name: &str) -> Field {
    match name {
        "user_id" => Field::UserId,
        "amount_cents" => Field::AmountCents,
        "currency" => Field::Currency,
        "tags" => Field::Tags,
        "ts" => Field::Ts,
        _ => Field::Other,
    }
}

/// Bytes that may not appear raw in a string (`"`, `\`, control characters).
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

pub struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    pub fn new(text: &'a str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    /// The byte at the cursor, 0 at the end (a raw 0 is never valid where this is used).
    #[inline]
    fn peek(&self) -> u8 {
        self.bytes.get(self.pos).copied().unwrap_or(0)
    }

    #[inline]
    fn skip_ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Parsed<()> {
        if self.peek() == byte {
            self.pos += 1;
            Ok(())
        } else {
            Err(Syntax)
        }
    }

    fn string(&mut self) -> Parsed<RawStr<'a>> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            while self
                .bytes
                .get(self.pos)
                .is_some_and(|&byte| !STRING_STOP[usize::from(byte)])
            {
                self.pos += 1;
            }
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(RawStr {
                        raw: &self.text[start..self.pos - 1],
                        escaped,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    match self.bytes.get(self.pos + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 2
                        }
                        Some(b'u') => {
                            let hex = self.bytes.get(self.pos + 2..self.pos + 6).ok_or(Syntax)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Syntax);
                            }
                            self.pos += 6;
                        }
                        _ => return Err(Syntax),
                    }
                }
                _ => return Err(Syntax), // control character or end of input
            }
        }
    }

    #[inline]
    fn digits(&mut self) {
        while self.peek().is_ascii_digit() {
            self.pos += 1;
        }
    }

    /// A number token: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Parsed<&'a str> {
        let start = self.pos;
        if self.peek() == b'-' {
            self.pos += 1;
        }
        match self.peek() {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return Err(Syntax),
        }
        if self.peek() == b'.' {
            self.pos += 1;
            if !self.peek().is_ascii_digit() {
                return Err(Syntax);
            }
            self.digits();
        }
        if matches!(self.peek(), b'e' | b'E') {
            self.pos += 1;
            if matches!(self.peek(), b'+' | b'-') {
                self.pos += 1;
            }
            if !self.peek().is_ascii_digit() {
                return Err(Syntax);
            }
            self.digits();
        }
        Ok(&self.text[start..self.pos])
    }

    fn literal(&mut self, word: &[u8]) -> Parsed<()> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Syntax)
        }
    }

    /// `"key"` then `:`, at the first byte of the key.
    fn key(&mut self) -> Parsed<RawStr<'a>> {
        let key = self.string()?;
        self.skip_ws();
        self.expect(b':')?;
        self.skip_ws();
        Ok(key)
    }

    /// Skips one value of any shape, iteratively (no depth limit but the body's size).
    fn skip_value(&mut self) -> Parsed<()> {
        // Open containers: true for an object, false for an array.
        let mut stack: Vec<bool> = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                b'{' => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == b'}' {
                        self.pos += 1;
                    } else {
                        stack.push(true);
                        self.key()?;
                        continue;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == b']' {
                        self.pos += 1;
                    } else {
                        stack.push(false);
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => {
                    self.number()?;
                }
            }
            // A value is complete: close what it completes.
            loop {
                let Some(&object) = stack.last() else {
                    return Ok(());
                };
                self.skip_ws();
                match (self.peek(), object) {
                    (b',', _) => {
                        self.pos += 1;
                        if object {
                            self.skip_ws();
                            self.key()?;
                        }
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        self.pos += 1;
                        stack.pop();
                    }
                    _ => return Err(Syntax),
                }
            }
        }
    }

    /// A string value, decoded; `None` (the value skipped) for any other type.
    fn string_value(&mut self) -> Parsed<Option<Cow<'a, str>>> {
        if self.peek() == b'"' {
            Ok(Some(self.string()?.decode()))
        } else {
            self.skip_value()?;
            Ok(None)
        }
    }

    /// After `,` or the opening bracket: `Ok(true)` for another member, `Ok(false)` at
    /// the closing one.
    #[inline]
    fn next_member(&mut self, close: u8) -> Parsed<bool> {
        self.skip_ws();
        match self.peek() {
            b',' => {
                self.pos += 1;
                self.skip_ws();
                Ok(true)
            }
            byte if byte == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(Syntax),
        }
    }

    /// Whether a container is empty, right after its opening bracket.
    #[inline]
    fn empty(&mut self, close: u8) -> bool {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == close {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `tags`: an array of 0–8 strings matching `^[a-z0-9_-]{1,32}$`; the valid tags
    /// land in `tags`.
    fn tags(&mut self, tags: &mut Vec<Cow<'a, str>>) -> Parsed<bool> {
        tags.clear();
        if self.peek() != b'[' {
            self.skip_value()?;
            return Ok(false);
        }
        if self.empty(b']') {
            return Ok(true);
        }
        let mut ok = true;
        loop {
            if self.peek() == b'"' {
                let tag = self.string()?;
                if ok {
                    if tags.len() < MAX_TAGS && record::is_tag(tag.raw) && !tag.escaped {
                        tags.push(Cow::Borrowed(tag.raw));
                    } else if tags.len() < MAX_TAGS && tag.escaped {
                        let tag = tag.decode();
                        ok = record::is_tag(&tag);
                        tags.push(tag);
                    } else {
                        ok = false;
                    }
                }
            } else {
                self.skip_value()?;
                ok = false;
            }
            if !self.next_member(b']')? {
                return Ok(ok);
            }
        }
    }

    /// One record (the cursor at its `{`): the amount and currency when valid (the tags
    /// in `tags`), else the first failing field.
    fn record(
        &mut self,
        tags: &mut Vec<Cow<'a, str>>,
    ) -> Parsed<Result<(u32, [u8; 3]), RecordError>> {
        let mut user_id = false;
        let mut amount = None;
        let mut currency = None;
        let mut tags_ok = false;
        let mut ts = false;
        if !self.empty(b'}') {
            loop {
                let key = self.key()?;
                match field(&key.decode()) {
                    Field::UserId => {
                        user_id = self
                            .string_value()?
                            .is_some_and(|text| record::is_hyphenated_uuid(&text));
                    }
                    Field::AmountCents => {
                        amount = if matches!(self.peek(), b'-' | b'0'..=b'9') {
                            record::amount(self.number()?)
                        } else {
                            self.skip_value()?;
                            None
                        };
                    }
                    Field::Currency => {
                        currency = self
                            .string_value()?
                            .and_then(|text| record::currency(&text));
                    }
                    Field::Tags => tags_ok = self.tags(tags)?,
                    Field::Ts => {
                        ts = self
                            .string_value()?
                            .is_some_and(|text| super::timestamp::is_strict_rfc3339(&text));
                    }
                    Field::Other => self.skip_value()?,
                }
                if !self.next_member(b'}')? {
                    break;
                }
            }
        }
        Ok(if !user_id {
            Err(RecordError::UserId)
        } else if let Some(amount) = amount {
            if let Some(currency) = currency {
                if !tags_ok {
                    Err(RecordError::Tags)
                } else if !ts {
                    Err(RecordError::Ts)
                } else {
                    Ok((amount, currency))
                }
            } else {
                Err(RecordError::Currency)
            }
        } else {
            Err(RecordError::AmountCents)
        })
    }

    /// The `records` array, the cursor at its `[`.
    fn records(&mut self) -> Parsed<Batch<'a>> {
        let mut batch = Batch::default();
        if self.empty(b']') {
            return Ok(batch);
        }
        let mut tags = Vec::with_capacity(MAX_TAGS);
        loop {
            let index = batch.records;
            batch.records += 1;
            let outcome = if self.peek() == b'{' {
                self.record(&mut tags)?
            } else {
                self.skip_value()?;
                Err(RecordError::Record)
            };
            if index < MAX_RECORDS {
                batch.add(index, outcome, &tags);
            }
            if !self.next_member(b']')? {
                return Ok(batch);
            }
        }
    }

    /// The whole body.
    pub fn body(mut self) -> Parsed<TopLevel<'a>> {
        self.skip_ws();
        let top = if self.peek() == b'{' {
            let mut records = None;
            if !self.empty(b'}') {
                loop {
                    let key = self.key()?;
                    if key.decode() == "records" {
                        records = if self.peek() == b'[' {
                            Some(self.records()?)
                        } else {
                            self.skip_value()?;
                            None
                        };
                    } else {
                        self.skip_value()?;
                    }
                    if !self.next_member(b'}')? {
                        break;
                    }
                }
            }
            TopLevel::Object(records)
        } else {
            self.skip_value()?;
            TopLevel::NotAnObject
        };
        self.skip_ws();
        if self.pos == self.bytes.len() {
            Ok(top)
        } else {
            Err(Syntax)
        }
    }
}
