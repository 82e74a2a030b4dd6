//! Reading knowledge tables from TOML: the built-in `faq.toml` and `modern.toml` and users'
//! `--knowledge` files go through the same reader, so a user's file is checked exactly as strictly
//! as the probe's own.
//!
//! The reader walks TOML's spanned document tree itself rather than deriving serde structs: that
//! way every complaint can name the line and the field (`port[3].level`), and unknown fields are
//! refused instead of silently ignored.

use std::{
    ops::Range,
    path::{Path, PathBuf},
};

use serde::Serialize;
use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

use super::{
    KnowledgeError, RangeClass,
    address::Cidr,
    types::{
        Applies, Basis, Category, Direction, IcmpFamily, Level, PortSpan, Protos, UnknownWord,
        Vocabulary,
    },
};

/// The descriptive half of every entry: what it is called, how worrying it is, what it means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Info {
    /// Short name, e.g. "Back Orifice".
    pub name: String,
    pub category: Category,
    pub level: Level,
    /// FAQ section(s) the entry rests on, e.g. "1.1, 1.4".
    pub faq: Option<String>,
    /// The public reports, advisories or documentation the entry rests on, as one line, e.g.
    /// "CISA alert AA19-168A (BlueKeep, CVE-2019-0708)". Every entry of the modern table has
    /// one; the FAQ's entries cite `faq` instead.
    pub source: Option<String>,
    pub basis: Basis,
    /// One line.
    pub meaning: String,
    /// What it is, why someone sends it, what to do.
    pub explanation: String,
    /// A detail the FAQ had but both surviving copies lost.
    pub lost: Option<String>,
    /// Topics only: what a detector's finding on this topic says, with `{name}` marks the
    /// detector fills in (`{src}`, `{dst}`...). Kept in the data so that a finding's story and
    /// the topic it cites are written in one place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub story: Option<String>,
}

/// A port or port range and what it means in one direction for one or both protocols.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PortEntry {
    pub ports: PortSpan,
    pub proto: Protos,
    pub direction: Applies,
    #[serde(flatten)]
    pub info: Info,
}

/// An ICMP type, or one code of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IcmpEntry {
    pub family: IcmpFamily,
    #[serde(rename = "type")]
    pub icmp_type: u8,
    /// `None`: the entry describes the whole type.
    pub code: Option<u8>,
    #[serde(flatten)]
    pub info: Info,
}

/// What a port means when nothing more than its range class is known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassEntry {
    pub class: RangeClass,
    pub direction: Direction,
    #[serde(flatten)]
    pub info: Info,
}

/// Where practice differs from the range classes (Sun RPC from 32768, masquerade from 61000).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Caveat {
    pub ports: PortSpan,
    pub text: String,
    pub faq: Option<String>,
    pub basis: Basis,
}

/// An address block and what traffic from or to it means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddressEntry {
    pub cidr: Cidr,
    #[serde(flatten)]
    pub info: Info,
}

/// The first bytes of a connection that identify a protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureEntry {
    /// The bytes as written in the file (a string; its UTF-8 bytes are matched).
    pub bytes: String,
    #[serde(flatten)]
    pub info: Info,
}

/// A pattern or piece of background that is not a single port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopicEntry {
    pub id: String,
    #[serde(flatten)]
    pub info: Info,
}

/// Everything one file holds, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tables {
    pub ports: Vec<PortEntry>,
    pub icmp: Vec<IcmpEntry>,
    pub classes: Vec<ClassEntry>,
    pub caveats: Vec<Caveat>,
    pub addresses: Vec<AddressEntry>,
    pub signatures: Vec<SignatureEntry>,
    pub topics: Vec<TopicEntry>,
}

/// How strict to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One of the probe's own tables: every field, and the `basis` and citation that table
    /// requires.
    Builtin(Table),
    /// A user's file: entries replace or extend the built-in ones; see [`parse`].
    Override,
}

/// The probe's built-in tables. Each is a file of its own, read by the same reader; they differ
/// in what their entries rest on and so in the `basis` and citation each entry must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    /// `faq.toml`: the Firewall Forensics FAQ's facts. `basis` is `faq` or `general`, and `faq`
    /// names the FAQ section.
    Faq,
    /// `modern.toml`: the ports most probed today. `basis` is `modern`, and `source` names the
    /// public reports and advisories.
    Modern,
}

impl Table {
    /// The bases an entry of this table may have.
    fn bases(self) -> &'static [Basis] {
        match self {
            Self::Faq => &[Basis::Faq, Basis::General],
            Self::Modern => &[Basis::Modern],
        }
    }

    /// The complaint for any other basis.
    fn wrong_basis(self) -> &'static str {
        match self {
            Self::Faq => "built-in entries of the FAQ's table are `faq` or `general`",
            Self::Modern => "built-in entries of the modern table are `modern`",
        }
    }
}

const INFO_FIELDS: &[&str] = &[
    "name",
    "category",
    "level",
    "faq",
    "source",
    "basis",
    "meaning",
    "explanation",
    "lost",
];

const TABLES: &[&str] = &[
    "port",
    "icmp",
    "class",
    "caveat",
    "address",
    "signature",
    "topic",
];

/// Where in which file we are; turns byte spans into line numbers.
struct Ctx<'s> {
    path: &'s Path,
    src: &'s str,
}

impl Ctx<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.src.len());
        // Splitting at newlines yields one piece per line up to the span's start.
        self.src.as_bytes()[..end].split(|b| *b == b'\n').count()
    }

    fn field_err(&self, span: &Range<usize>, field: String, message: String) -> KnowledgeError {
        KnowledgeError::Field {
            path: self.path.to_path_buf(),
            line: self.line(span),
            field,
            message,
        }
    }
}

/// One `[[kind]]` table being read.
struct Reader<'a, 'i> {
    ctx: &'a Ctx<'a>,
    table: &'a DeTable<'i>,
    /// `port[3]`
    prefix: String,
    /// Span of the whole table, for fields that are missing.
    span: Range<usize>,
}

type Res<T> = Result<T, KnowledgeError>;

impl<'a, 'i> Reader<'a, 'i> {
    fn get(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    fn err(&self, span: &Range<usize>, key: &str, message: impl Into<String>) -> KnowledgeError {
        self.ctx
            .field_err(span, format!("{}.{key}", self.prefix), message.into())
    }

    fn missing(&self, key: &str, why: &str) -> KnowledgeError {
        self.err(&self.span.clone(), key, format!("missing; {why}"))
    }

    fn check_keys(&self, allowed: &[&str]) -> Res<()> {
        for (key, _) in self.table {
            let name: &str = key.get_ref();
            if !allowed.contains(&name) {
                return Err(self.err(
                    &key.span(),
                    name,
                    format!("unknown field; expected one of: {}", allowed.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn string(&self, key: &str) -> Res<Option<(String, Range<usize>)>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.get_ref() {
            DeValue::String(s) => {
                let s = s.trim();
                if s.is_empty() {
                    Err(self.err(
                        &v.span(),
                        key,
                        "is empty; write some text or leave the field out",
                    ))
                } else {
                    Ok(Some((s.to_owned(), v.span())))
                }
            }
            other => Err(self.err(
                &v.span(),
                key,
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    }

    fn text(&self, key: &str) -> Res<Option<String>> {
        Ok(self.string(key)?.map(|(s, _)| s))
    }

    fn one_line(&self, key: &str) -> Res<Option<String>> {
        match self.string(key)? {
            Some((s, span)) if s.contains('\n') => Err(self.err(
                &span,
                key,
                "must be a single line; put detail in `explanation`",
            )),
            other => Ok(other.map(|(s, _)| s)),
        }
    }

    fn integer(&self, key: &str, max: u32) -> Res<Option<u32>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let DeValue::Integer(i) = v.get_ref() else {
            return Err(self.err(
                &v.span(),
                key,
                format!(
                    "expected a whole number from 0 to {max}, found {}",
                    v.get_ref().type_str()
                ),
            ));
        };
        i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n <= max)
            .map(Some)
            .ok_or_else(|| self.err(&v.span(), key, format!("{i} is out of range 0 to {max}")))
    }

    fn word<T: Vocabulary + std::str::FromStr<Err = UnknownWord>>(
        &self,
        key: &str,
    ) -> Res<Option<T>> {
        match self.string(key)? {
            None => Ok(None),
            Some((s, span)) => s
                .parse::<T>()
                .map(Some)
                .map_err(|e| self.err(&span, key, e.to_string())),
        }
    }

    /// `port = N` or `ports = "LO-HI"`, exactly one of them.
    fn span_field(&self) -> Res<(PortSpan, &'static str)> {
        match (self.get("port"), self.get("ports")) {
            (Some(_), Some(v)) => Err(self.err(
                &v.span(),
                "ports",
                "give either `port` (one number) or `ports` (\"LO-HI\"), not both",
            )),
            (Some(_), None) => {
                let n = self
                    .integer("port", u32::from(u16::MAX))?
                    .unwrap_or_default();
                Ok((PortSpan::single(n as u16), "port"))
            }
            (None, Some(v)) => match v.get_ref() {
                DeValue::Integer(_) => {
                    let n = self
                        .integer("ports", u32::from(u16::MAX))?
                        .unwrap_or_default();
                    Ok((PortSpan::single(n as u16), "ports"))
                }
                DeValue::String(s) => s
                    .parse::<PortSpan>()
                    .map(|p| (p, "ports"))
                    .map_err(|e| self.err(&v.span(), "ports", e.to_string())),
                other => Err(self.err(
                    &v.span(),
                    "ports",
                    format!(
                        "expected a string such as \"6970-7170\", found {}",
                        other.type_str()
                    ),
                )),
            },
            (None, None) => Err(self.missing(
                "port",
                "give `port = N` for one port or `ports = \"LO-HI\"` for a range",
            )),
        }
    }

    fn draft<K>(&self, key: K, info: InfoDraft) -> Draft<K> {
        Draft {
            key,
            info,
            prefix: self.prefix.clone(),
            span: self.span.clone(),
        }
    }

    fn info(&self) -> Res<InfoDraft> {
        Ok(InfoDraft {
            name: self.one_line("name")?,
            category: self.word("category")?,
            level: self.word("level")?,
            faq: self.one_line("faq")?,
            source: self.one_line("source")?,
            basis: self.word("basis")?,
            meaning: self.one_line("meaning")?,
            explanation: self.text("explanation")?,
            lost: self.text("lost")?,
            story: self.text("story")?,
        })
    }
}

/// An entry's descriptive fields as written; any may be missing in an override.
#[derive(Clone, Debug, Default)]
struct InfoDraft {
    name: Option<String>,
    category: Option<Category>,
    level: Option<Level>,
    faq: Option<String>,
    source: Option<String>,
    basis: Option<Basis>,
    meaning: Option<String>,
    explanation: Option<String>,
    lost: Option<String>,
    story: Option<String>,
}

/// One parsed entry before it is checked against the built-in tables.
struct Draft<K> {
    key: K,
    info: InfoDraft,
    prefix: String,
    span: Range<usize>,
}

impl InfoDraft {
    /// Fill in the fields. `base` is the built-in entry an override replaces.
    fn complete(self, mode: Mode, base: Option<&Info>, at: &Located) -> Res<Info> {
        fn need<T>(at: &Located, field: &str, v: Option<T>, why: &str) -> Res<T> {
            v.ok_or_else(|| at.missing(field, why))
        }
        match (mode, base) {
            (Mode::Builtin(table), _) => {
                let why = "every built-in entry needs it";
                let basis = need(at, "basis", self.basis, why)?;
                if !table.bases().contains(&basis) {
                    return Err(at.invalid("basis", table.wrong_basis()));
                }
                // Each table's entries cite what they rest on: the FAQ's a section, the modern
                // table's its reports. The other citation is optional (a cross-reference).
                let (faq, source) = match table {
                    Table::Faq => (Some(need(at, "faq", self.faq, why)?), self.source),
                    Table::Modern => (
                        self.faq,
                        Some(need(
                            at,
                            "source",
                            self.source,
                            "every entry of the modern table names its reports",
                        )?),
                    ),
                };
                Ok(Info {
                    name: need(at, "name", self.name, why)?,
                    category: need(at, "category", self.category, why)?,
                    level: need(at, "level", self.level, why)?,
                    faq,
                    source,
                    basis,
                    meaning: need(at, "meaning", self.meaning, why)?,
                    explanation: need(at, "explanation", self.explanation, why)?,
                    lost: self.lost,
                    story: self.story,
                })
            }
            (Mode::Override, Some(base)) => Ok(Info {
                name: self.name.unwrap_or_else(|| base.name.clone()),
                category: self.category.unwrap_or(base.category),
                level: self.level.unwrap_or(base.level),
                faq: self.faq.or_else(|| base.faq.clone()),
                source: self.source.or_else(|| base.source.clone()),
                basis: Basis::Override,
                meaning: self.meaning.unwrap_or_else(|| base.meaning.clone()),
                explanation: self.explanation.unwrap_or_else(|| base.explanation.clone()),
                lost: self.lost.or_else(|| base.lost.clone()),
                story: self.story.or_else(|| base.story.clone()),
            }),
            (Mode::Override, None) => {
                let why = "an entry that replaces no built-in one needs name, category, level and meaning";
                let name = need(at, "name", self.name, why)?;
                let category = need(at, "category", self.category, why)?;
                let level = need(at, "level", self.level, why)?;
                let meaning = need(at, "meaning", self.meaning, why)?;
                Ok(Info {
                    name,
                    category,
                    level,
                    faq: self.faq,
                    source: self.source,
                    basis: Basis::Override,
                    explanation: self.explanation.unwrap_or_else(|| meaning.clone()),
                    meaning,
                    lost: self.lost,
                    story: self.story,
                })
            }
        }
    }
}

/// Enough to report a problem with an entry after its table has been read.
struct Located {
    path: PathBuf,
    line: usize,
    prefix: String,
}

impl Located {
    fn missing(&self, field: &str, why: &str) -> KnowledgeError {
        self.invalid(field, &format!("missing; {why}"))
    }

    fn invalid(&self, field: &str, message: &str) -> KnowledgeError {
        KnowledgeError::Field {
            path: self.path.clone(),
            line: self.line,
            field: format!("{}.{field}", self.prefix),
            message: message.to_owned(),
        }
    }
}

/// All drafts of one file, by kind.
#[derive(Default)]
struct Drafts {
    ports: Vec<Draft<(PortSpan, Protos, Applies)>>,
    icmp: Vec<Draft<(IcmpFamily, u8, Option<u8>)>>,
    classes: Vec<Draft<(RangeClass, Direction)>>,
    caveats: Vec<Caveat>,
    addresses: Vec<Draft<Cidr>>,
    signatures: Vec<Draft<String>>,
    topics: Vec<Draft<String>>,
}

fn with_info(extra: &[&'static str]) -> Vec<&'static str> {
    let mut all = extra.to_vec();
    all.extend_from_slice(INFO_FIELDS);
    all
}

fn range_class(r: &Reader<'_, '_>) -> Res<RangeClass> {
    let Some((s, span)) = r.string("class")? else {
        return Err(r.missing("class", "write well-known, registered or dynamic"));
    };
    match s.as_str() {
        "well-known" => Ok(RangeClass::WellKnown),
        "registered" => Ok(RangeClass::Registered),
        "dynamic" => Ok(RangeClass::Dynamic),
        _ => Err(r.err(
            &span,
            "class",
            format!("unknown range class {s:?}; expected one of: well-known, registered, dynamic"),
        )),
    }
}

fn require<T>(r: &Reader<'_, '_>, key: &str, v: Option<T>, why: &str) -> Res<T> {
    v.ok_or_else(|| r.missing(key, why))
}

fn read_drafts(ctx: &Ctx<'_>, doc: &DeTable<'_>, mode: Mode) -> Res<Drafts> {
    let mut drafts = Drafts::default();
    for (kind, value) in doc {
        let kind_name: &str = kind.get_ref();
        if !TABLES.contains(&kind_name) {
            let expected: Vec<String> = TABLES.iter().map(|t| format!("[[{t}]]")).collect();
            return Err(ctx.field_err(
                &kind.span(),
                kind_name.to_owned(),
                format!(
                    "unknown kind of entry; expected one of: {}",
                    expected.join(", ")
                ),
            ));
        }
        let DeValue::Array(items) = value.get_ref() else {
            return Err(ctx.field_err(
                &kind.span(),
                kind_name.to_owned(),
                format!("write each entry as a [[{kind_name}]] table"),
            ));
        };
        for (i, item) in items.iter().enumerate() {
            let prefix = format!("{kind_name}[{}]", i + 1);
            let DeValue::Table(table) = item.get_ref() else {
                return Err(ctx.field_err(
                    &item.span(),
                    prefix,
                    format!("write each entry as a [[{kind_name}]] table"),
                ));
            };
            let r = Reader {
                ctx,
                table,
                prefix,
                span: item.span(),
            };
            match kind_name {
                "port" => drafts.ports.push(read_port(&r)?),
                "icmp" => drafts.icmp.push(read_icmp(&r)?),
                "class" => drafts.classes.push(read_class(&r)?),
                "caveat" => drafts.caveats.push(read_caveat(&r, mode)?),
                "address" => drafts.addresses.push(read_address(&r)?),
                "signature" => drafts.signatures.push(read_signature(&r)?),
                _ => drafts.topics.push(read_topic(&r)?),
            }
        }
    }
    Ok(drafts)
}

fn read_port(r: &Reader<'_, '_>) -> Res<Draft<(PortSpan, Protos, Applies)>> {
    r.check_keys(&with_info(&["port", "ports", "proto", "direction"]))?;
    let (span, _) = r.span_field()?;
    let proto = require(r, "proto", r.word("proto")?, "write tcp, udp or both")?;
    let direction = require(
        r,
        "direction",
        r.word("direction")?,
        "write destination, source or either",
    )?;
    Ok(r.draft((span, proto, direction), r.info()?))
}

fn read_icmp(r: &Reader<'_, '_>) -> Res<Draft<(IcmpFamily, u8, Option<u8>)>> {
    r.check_keys(&with_info(&["family", "type", "code"]))?;
    let family = require(r, "family", r.word("family")?, "write v4 or v6")?;
    let ty = require(
        r,
        "type",
        r.integer("type", 255)?,
        "write the ICMP type number",
    )?;
    let code = r.integer("code", 255)?.map(|c| c as u8);
    Ok(r.draft((family, ty as u8, code), r.info()?))
}

fn read_class(r: &Reader<'_, '_>) -> Res<Draft<(RangeClass, Direction)>> {
    r.check_keys(&with_info(&["class", "direction"]))?;
    let class = range_class(r)?;
    let direction = require(
        r,
        "direction",
        r.word("direction")?,
        "write destination or source",
    )?;
    Ok(r.draft((class, direction), r.info()?))
}

fn read_caveat(r: &Reader<'_, '_>, mode: Mode) -> Res<Caveat> {
    r.check_keys(&["port", "ports", "text", "faq", "basis"])?;
    let (ports, _) = r.span_field()?;
    let text = require(
        r,
        "text",
        r.one_line("text")?,
        "write the caveat as one line",
    )?;
    let basis = match mode {
        Mode::Override => Basis::Override,
        Mode::Builtin(table) => match r.word::<Basis>("basis")? {
            Some(b) if table.bases().contains(&b) => b,
            Some(_) => {
                let span = r.get("basis").map_or(r.span.clone(), Spanned::span);
                return Err(r.err(&span, "basis", table.wrong_basis()));
            }
            None => return Err(r.missing("basis", "every built-in entry needs it")),
        },
    };
    Ok(Caveat {
        ports,
        text,
        faq: r.one_line("faq")?,
        basis,
    })
}

fn read_address(r: &Reader<'_, '_>) -> Res<Draft<Cidr>> {
    r.check_keys(&with_info(&["cidr"]))?;
    let (s, span) = require(
        r,
        "cidr",
        r.string("cidr")?,
        "write a network such as \"10.0.0.0/8\"",
    )?;
    let cidr = s
        .parse::<Cidr>()
        .map_err(|e| r.err(&span, "cidr", e.to_string()))?;
    Ok(r.draft(cidr, r.info()?))
}

fn read_signature(r: &Reader<'_, '_>) -> Res<Draft<String>> {
    r.check_keys(&with_info(&["bytes"]))?;
    let Some(v) = r.get("bytes") else {
        return Err(r.missing("bytes", "write the first bytes of a connection as a string"));
    };
    // Not trimmed: a trailing space ("GET ") is part of what is matched.
    let bytes = match v.get_ref() {
        DeValue::String(s) if !s.is_empty() => s.to_string(),
        DeValue::String(_) => {
            return Err(r.err(&v.span(), "bytes", "is empty; write at least one byte"));
        }
        other => {
            return Err(r.err(
                &v.span(),
                "bytes",
                format!("expected a string, found {}", other.type_str()),
            ));
        }
    };
    Ok(r.draft(bytes, r.info()?))
}

fn read_topic(r: &Reader<'_, '_>) -> Res<Draft<String>> {
    r.check_keys(&with_info(&["id", "story"]))?;
    let (id, span) = require(
        r,
        "id",
        r.string("id")?,
        "write a short id such as \"smurf\"",
    )?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(r.err(&span, "id", "use only lowercase letters, digits and '-'"));
    }
    Ok(r.draft(id, r.info()?))
}

/// Refuse two entries with the same key in one file: the second would silently win.
fn no_duplicates<K: PartialEq>(ctx: &Ctx<'_>, drafts: &[Draft<K>], what: &str) -> Res<()> {
    for (i, later) in drafts.iter().enumerate() {
        if let Some(earlier) = drafts[..i].iter().find(|d| d.key == later.key) {
            return Err(ctx.field_err(
                &later.span,
                later.prefix.clone(),
                format!(
                    "same {what} as the entry on line {}; merge the two",
                    ctx.line(&earlier.span)
                ),
            ));
        }
    }
    Ok(())
}

/// An entry kind that carries [`Info`] and is found by a key.
trait Keyed: Sized {
    type Key: PartialEq;
    fn key(&self) -> Self::Key;
    fn info_mut(&mut self) -> &mut Info;
    fn make(key: Self::Key, info: Info) -> Self;
}

impl Keyed for PortEntry {
    type Key = (PortSpan, Protos, Applies);
    fn key(&self) -> Self::Key {
        (self.ports, self.proto, self.direction)
    }
    fn info_mut(&mut self) -> &mut Info {
        &mut self.info
    }
    fn make((ports, proto, direction): Self::Key, info: Info) -> Self {
        Self {
            ports,
            proto,
            direction,
            info,
        }
    }
}

impl Keyed for IcmpEntry {
    type Key = (IcmpFamily, u8, Option<u8>);
    fn key(&self) -> Self::Key {
        (self.family, self.icmp_type, self.code)
    }
    fn info_mut(&mut self) -> &mut Info {
        &mut self.info
    }
    fn make((family, icmp_type, code): Self::Key, info: Info) -> Self {
        Self {
            family,
            icmp_type,
            code,
            info,
        }
    }
}

impl Keyed for ClassEntry {
    type Key = (RangeClass, Direction);
    fn key(&self) -> Self::Key {
        (self.class, self.direction)
    }
    fn info_mut(&mut self) -> &mut Info {
        &mut self.info
    }
    fn make((class, direction): Self::Key, info: Info) -> Self {
        Self {
            class,
            direction,
            info,
        }
    }
}

impl Keyed for AddressEntry {
    type Key = Cidr;
    fn key(&self) -> Self::Key {
        self.cidr
    }
    fn info_mut(&mut self) -> &mut Info {
        &mut self.info
    }
    fn make(cidr: Self::Key, info: Info) -> Self {
        Self { cidr, info }
    }
}

impl Keyed for SignatureEntry {
    type Key = String;
    fn key(&self) -> Self::Key {
        self.bytes.clone()
    }
    fn info_mut(&mut self) -> &mut Info {
        &mut self.info
    }
    fn make(bytes: Self::Key, info: Info) -> Self {
        Self { bytes, info }
    }
}

impl Keyed for TopicEntry {
    type Key = String;
    fn key(&self) -> Self::Key {
        self.id.clone()
    }
    fn info_mut(&mut self) -> &mut Info {
        &mut self.info
    }
    fn make(id: Self::Key, info: Info) -> Self {
        Self { id, info }
    }
}

/// Check every draft of one kind and place it: an override whose key matches a built-in entry
/// replaces that entry where it stands (fields it leaves out are kept), in every built-in table
/// that has one (the FAQ's and the modern table may both describe 23/tcp); anything else is new.
fn settle<E: Keyed>(
    ctx: &Ctx<'_>,
    mode: Mode,
    drafts: Vec<Draft<E::Key>>,
    bases: &mut [&mut Vec<E>],
    added: &mut Vec<E>,
) -> Res<()> {
    for d in drafts {
        let at = Located {
            path: ctx.path.to_path_buf(),
            line: ctx.line(&d.span),
            prefix: d.prefix,
        };
        let mut replaced = false;
        if mode == Mode::Override {
            for base in bases.iter_mut() {
                // Keys are unique within a table, so each table has at most one.
                if let Some(existing) = base.iter_mut().find(|e| e.key() == d.key) {
                    let slot = existing.info_mut();
                    *slot = d.info.clone().complete(mode, Some(slot), &at)?;
                    replaced = true;
                }
            }
        }
        if !replaced {
            let info = d.info.complete(mode, None, &at)?;
            added.push(E::make(d.key, info));
        }
    }
    Ok(())
}

/// Parse a knowledge file. With [`Mode::Builtin`] the result is the table itself (`bases` is not
/// looked at). With [`Mode::Override`], each of `bases` (the built-in tables) is updated in
/// place with replaced entries and the new entries are returned; on error `bases` are left
/// exactly as they were.
pub(crate) fn parse(path: &Path, src: &str, mode: Mode, bases: &mut [&mut Tables]) -> Res<Tables> {
    let ctx = Ctx { path, src };
    let doc = DeTable::parse(src).map_err(|e| KnowledgeError::Syntax {
        path: path.to_path_buf(),
        line: e.span().map_or(1, |s| ctx.line(&s)),
        message: e.message().trim().replace('\n', " "),
    })?;
    let drafts = read_drafts(&ctx, doc.get_ref(), mode)?;
    no_duplicates(&ctx, &drafts.ports, "port, proto and direction")?;
    no_duplicates(&ctx, &drafts.icmp, "family, type and code")?;
    no_duplicates(&ctx, &drafts.classes, "class and direction")?;
    no_duplicates(&ctx, &drafts.addresses, "cidr")?;
    no_duplicates(&ctx, &drafts.signatures, "bytes")?;
    no_duplicates(&ctx, &drafts.topics, "id")?;

    // Work on copies so that a failure halfway leaves the caller's tables untouched.
    let mut merged: Vec<Tables> = bases.iter().map(|b| (**b).clone()).collect();
    let mut added = Tables::default();
    macro_rules! settle_kind {
        ($kind:ident) => {
            settle(
                &ctx,
                mode,
                drafts.$kind,
                &mut merged.iter_mut().map(|t| &mut t.$kind).collect::<Vec<_>>(),
                &mut added.$kind,
            )?
        };
    }
    settle_kind!(ports);
    settle_kind!(icmp);
    settle_kind!(classes);
    settle_kind!(addresses);
    settle_kind!(signatures);
    settle_kind!(topics);
    added.caveats = drafts.caveats;
    for (base, table) in bases.iter_mut().zip(merged) {
        **base = table;
    }
    Ok(added)
}
