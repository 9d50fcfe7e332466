//! Request templates: what a module asks discovery for, and how a template becomes a request.
//!
//! A template is data (method, path with `{params}`, typed parameters with roles). It comes either
//! from the backend's OpenAPI document (`Source::Spec`) or from the design's default paths and URL
//! shapes (`Source::Default`). Filling it is pure: [`RequestTemplate::fill`] turns a template and the
//! module's inputs into a path and query pairs, or says why it cannot.

use serde::{Deserialize, Serialize};
use std::cell::Cell;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Path,
    Query,
}

pub use crate::symbol::SymbolForm;

/// What sniper knows how to fill a parameter with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "role", content = "form")]
pub enum Role {
    Symbol(SymbolForm),
    Exchange,
    Timeframe,
    Depth,
    Days,
    /// A parameter sniper has no value for; it is sent only if it has a default and is required.
    Other,
}

/// One parameter of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// The backend's own name (`symbol`, `tf`, `instId`…).
    pub name: String,
    pub location: Location,
    pub role: Role,
    pub required: bool,
    /// Allowed values from the spec's `enum` (strings), empty when unconstrained.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// The spec's `pattern`, if any (checked by the filler with a small anchored-alternation matcher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The spec's default, rendered as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// For a symbol parameter: the spec's evidence (enum, pattern, example, default, description,
    /// `instId`) decided the form. When false, the form is sniper's fallback, and a module that
    /// answers `EMPTY` may try the other forms.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub form_pinned: bool,
}

/// Where a template came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Chosen from the backend's OpenAPI document.
    Spec,
    /// The design's default path or one of its fallback URL shapes.
    Default,
}

/// A request a module can make: GET `path` (relative to the configured base, may hold `{name}`
/// placeholders, each matched by a `Location::Path` param) with query params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTemplate {
    pub method: String,
    pub path: String,
    pub params: Vec<Param>,
    pub source: Source,
}

/// The values a module offers for each role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// `SOL`
    pub base: String,
    /// `SOLUSDT`
    pub spot: String,
    /// `SOL-USDT-SWAP`
    pub perp: String,
    /// Which form to use when the parameter does not say (per-module configuration).
    pub default_symbol_form: Option<SymbolForm>,
    pub exchange: Option<String>,
    /// Preferred timeframes, first is the module's choice; the filler picks the first allowed.
    pub timeframes: Vec<String>,
    pub depth: Option<u32>,
    pub days: Option<u32>,
}

/// A filled request: path with placeholders replaced (each segment value percent-encoded
/// later by `upstream::Url`), and query pairs in template order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilledRequest {
    /// Path segments, unencoded (`["advanced", "liquidation", "heatmap", "SOL"]`).
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
}

/// Why a template cannot be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum FillError {
    #[error("required parameter `{0}` has no value sniper can supply")]
    Unfillable(String),
    #[error(
        "no allowed value for parameter `{name}` (wanted one of {wanted:?}, backend allows {allowed:?})"
    )]
    NotAllowed {
        name: String,
        wanted: Vec<String>,
        allowed: Vec<String>,
    },
    #[error("path placeholder `{0}` has no matching parameter")]
    DanglingPlaceholder(String),
    /// No wanted value matches the parameter's `pattern` (only raised for patterns the small
    /// matcher in [`pattern_allows`] can evaluate; others never reject).
    #[error(
        "no value for parameter `{name}` matches its pattern `{pattern}` (wanted one of {wanted:?})"
    )]
    PatternMismatch {
        name: String,
        wanted: Vec<String>,
        pattern: String,
    },
}

impl RequestTemplate {
    /// Fill the template from `inputs`. Pure.
    ///
    /// Path placeholders must all be filled. Query parameters are sent under the spec's own names;
    /// an optional query parameter whose role is already covered by an earlier parameter (an alias
    /// such as `tf` next to `timeframe`, or `limit` next to `depth`) is not sent twice. Every value
    /// is checked against the parameter's `enum` and `pattern`.
    pub fn fill(&self, inputs: &Inputs) -> Result<FilledRequest, FillError> {
        let mut filled_roles: Vec<RoleKey> = Vec::new();
        let mut segments = Vec::new();
        for seg in self.path.split('/').filter(|s| !s.is_empty()) {
            // Placeholders may fill a whole segment (`{symbol}`) or part of one (`{symbol}.json`).
            let mut out = String::new();
            let mut rest = seg;
            while let Some(open) = rest.find('{') {
                out.push_str(&rest[..open]);
                let after = &rest[open + 1..];
                let close = after
                    .find('}')
                    .ok_or_else(|| FillError::DanglingPlaceholder(seg.to_string()))?;
                let name = &after[..close];
                let param = self
                    .params
                    .iter()
                    .find(|p| p.name == name && p.location == Location::Path)
                    .ok_or_else(|| FillError::DanglingPlaceholder(name.to_string()))?;
                match value_for(param, inputs)? {
                    Some(v) => out.push_str(&v),
                    None => return Err(FillError::Unfillable(param.name.clone())),
                }
                filled_roles.push(role_key(param.role));
                rest = &after[close + 1..];
            }
            if rest.contains('}') {
                return Err(FillError::DanglingPlaceholder(seg.to_string()));
            }
            out.push_str(rest);
            segments.push(out);
        }
        let mut query = Vec::new();
        for p in self.params.iter().filter(|p| p.location == Location::Query) {
            let key = role_key(p.role);
            if !p.required && key != RoleKey::Other && filled_roles.contains(&key) {
                continue;
            }
            if let Some(v) = value_for(p, inputs)? {
                query.push((p.name.clone(), v));
                filled_roles.push(key);
            } else if p.required {
                return Err(FillError::Unfillable(p.name.clone()));
            }
        }
        Ok(FilledRequest { segments, query })
    }
}

/// A role without its symbol form: two symbol parameters are aliases whatever form each wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleKey {
    Symbol,
    Exchange,
    Timeframe,
    Depth,
    Days,
    Other,
}

fn role_key(r: Role) -> RoleKey {
    match r {
        Role::Symbol(_) => RoleKey::Symbol,
        Role::Exchange => RoleKey::Exchange,
        Role::Timeframe => RoleKey::Timeframe,
        Role::Depth => RoleKey::Depth,
        Role::Days => RoleKey::Days,
        Role::Other => RoleKey::Other,
    }
}

/// The value for one parameter, checked against its `enum` and `pattern`; `None` when sniper has
/// nothing to send (optional parameters are then left to the backend's default).
fn value_for(p: &Param, inputs: &Inputs) -> Result<Option<String>, FillError> {
    let wanted: Vec<String> = match p.role {
        // The template's form first, then the others: an `enum` or `pattern` that refuses the
        // first picks the form it accepts (`^[A-Z]{2,10}$` → `SOL`) instead of failing the route.
        Role::Symbol(form) => {
            let value = |f: SymbolForm| match f {
                SymbolForm::Base => inputs.base.clone(),
                SymbolForm::Spot => inputs.spot.clone(),
                SymbolForm::Perp => inputs.perp.clone(),
            };
            let mut v = vec![value(form)];
            for f in [SymbolForm::Base, SymbolForm::Spot, SymbolForm::Perp] {
                let x = value(f);
                if !v.contains(&x) {
                    v.push(x);
                }
            }
            v
        }
        Role::Exchange => inputs.exchange.iter().cloned().collect(),
        Role::Timeframe => inputs.timeframes.clone(),
        Role::Depth => inputs.depth.iter().map(u32::to_string).collect(),
        Role::Days => inputs.days.iter().map(u32::to_string).collect(),
        Role::Other => {
            return Ok(if p.required { p.default.clone() } else { None });
        }
    };
    let wanted: Vec<String> = wanted.into_iter().filter(|w| !w.is_empty()).collect();
    if wanted.is_empty() {
        return Ok(if p.required { p.default.clone() } else { None });
    }
    // The backend's own spelling wins: `1h` wanted, `1H` allowed → send `1H`.
    let in_enum = |w: &String| -> Option<String> {
        if p.allowed.is_empty() {
            return Some(w.clone());
        }
        p.allowed
            .iter()
            .find(|a| *a == w)
            .or_else(|| p.allowed.iter().find(|a| a.eq_ignore_ascii_case(w)))
            .cloned()
    };
    let pattern_ok = |v: &String| -> bool {
        p.pattern
            .as_deref()
            .and_then(|pat| pattern_allows(pat, v))
            .unwrap_or(true)
    };
    let enum_ok: Vec<String> = wanted.iter().filter_map(in_enum).collect();
    if enum_ok.is_empty() {
        return Err(FillError::NotAllowed {
            name: p.name.clone(),
            wanted,
            allowed: p.allowed.clone(),
        });
    }
    match enum_ok.into_iter().find(pattern_ok) {
        Some(v) => Ok(Some(v)),
        None => Err(FillError::PatternMismatch {
            name: p.name.clone(),
            wanted,
            pattern: p.pattern.clone().unwrap_or_default(),
        }),
    }
}

/// Longest pattern the matcher looks at; longer ones are "cannot evaluate".
const MAX_PATTERN_LEN: usize = 256;
/// Deepest group nesting the matcher parses.
const MAX_GROUP_DEPTH: usize = 8;
/// Most atom steps one check may take; a pattern needing more is "cannot evaluate". Real patterns
/// on short values take a few hundred.
const MAX_PATTERN_STEPS: usize = 200_000;
/// Longest value the matcher checks (sniper's values are short symbols and timeframes).
const MAX_VALUE_LEN: usize = 256;

/// Does `value` match the spec `pattern`? `None` when the pattern uses something this small
/// matcher does not implement, in which case the caller must not reject the value.
///
/// Supported (ECMA-262 subset, enough for what API specs write): literals, `.`, `^` at the start
/// and `$` at the end, escapes `\d \w \s \D \W \S` and escaped punctuation, character classes
/// `[A-Z0-9_-]` / `[^…]`, groups `( … | … )` and `(?: … )`, quantifiers `? * + {n} {n,} {n,m}`.
/// Not supported (→ `None`): look-around, back-references, `\b`, Unicode classes, inner anchors.
/// Without `^`/`$` the pattern may match anywhere, as JSON Schema says. Matching is a set-of-
/// positions simulation, so it cannot blow up on nested quantifiers.
pub fn pattern_allows(pattern: &str, value: &str) -> Option<bool> {
    if pattern.len() > MAX_PATTERN_LEN || value.len() > MAX_VALUE_LEN {
        return None;
    }
    let mut chars: Vec<char> = pattern.chars().collect();
    let anchored_start = chars.first() == Some(&'^');
    if anchored_start {
        chars.remove(0);
    }
    let anchored_end = chars.last() == Some(&'$') && !ends_escaped(&chars);
    if anchored_end {
        chars.pop();
    }
    let mut parser = PatParser { c: &chars, i: 0 };
    let alts = parser.alternation(0)?;
    if parser.i != chars.len() {
        return None;
    }
    let input: Vec<char> = value.chars().collect();
    let n = input.len();
    let starts: Vec<usize> = if anchored_start {
        vec![0]
    } else {
        (0..=n).collect()
    };
    let budget = Cell::new(MAX_PATTERN_STEPS);
    let mut ends = vec![false; n + 1];
    for s in starts {
        for e in alts_ends(&alts, &input, s, &budget) {
            ends[e] = true;
        }
    }
    if budget.get() == 0 {
        return None;
    }
    Some(if anchored_end {
        ends[n]
    } else {
        ends.iter().any(|&b| b)
    })
}

fn ends_escaped(chars: &[char]) -> bool {
    let backslashes = chars[..chars.len().saturating_sub(1)]
        .iter()
        .rev()
        .take_while(|c| **c == '\\')
        .count();
    backslashes % 2 == 1
}

#[derive(Debug)]
enum Atom {
    Lit(char),
    Any,
    Class(Vec<(char, char)>, bool),
    Group(Vec<Vec<Piece>>),
}

#[derive(Debug)]
struct Piece {
    atom: Atom,
    min: usize,
    max: usize,
}

struct PatParser<'a> {
    c: &'a [char],
    i: usize,
}

impl PatParser<'_> {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    fn alternation(&mut self, depth: usize) -> Option<Vec<Vec<Piece>>> {
        if depth > MAX_GROUP_DEPTH {
            return None;
        }
        let mut alts = vec![Vec::new()];
        while let Some(ch) = self.peek() {
            match ch {
                '|' => {
                    self.i += 1;
                    alts.push(Vec::new());
                }
                ')' => break,
                _ => {
                    let atom = self.atom(depth)?;
                    let (min, max) = self.quantifier()?;
                    alts.last_mut()?.push(Piece { atom, min, max });
                }
            }
        }
        Some(alts)
    }

    fn atom(&mut self, depth: usize) -> Option<Atom> {
        let ch = self.peek()?;
        self.i += 1;
        match ch {
            '.' => Some(Atom::Any),
            '(' => {
                if self.peek() == Some('?') {
                    if self.c.get(self.i + 1) == Some(&':') {
                        self.i += 2;
                    } else {
                        return None;
                    }
                }
                let alts = self.alternation(depth + 1)?;
                if self.peek() != Some(')') {
                    return None;
                }
                self.i += 1;
                Some(Atom::Group(alts))
            }
            '[' => self.class(),
            '\\' => {
                let e = self.peek()?;
                self.i += 1;
                escape_atom(e)
            }
            '^' | '$' | '*' | '+' | '?' | '{' | '}' | ']' => None,
            c => Some(Atom::Lit(c)),
        }
    }

    fn class(&mut self) -> Option<Atom> {
        let negated = self.peek() == Some('^');
        if negated {
            self.i += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let ch = self.peek()?;
            self.i += 1;
            if ch == ']' && !first {
                break;
            }
            first = false;
            let lo = if ch == '\\' {
                let e = self.peek()?;
                self.i += 1;
                match escape_atom(e)? {
                    Atom::Lit(c) => c,
                    Atom::Class(r, false) => {
                        ranges.extend(r);
                        continue;
                    }
                    _ => return None,
                }
            } else {
                ch
            };
            if self.peek() == Some('-') && self.c.get(self.i + 1).is_some_and(|c| *c != ']') {
                self.i += 1;
                let hi = self.peek()?;
                self.i += 1;
                if hi == '\\' || hi < lo {
                    return None;
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Some(Atom::Class(ranges, negated))
    }

    fn quantifier(&mut self) -> Option<(usize, usize)> {
        let q = match self.peek() {
            Some('?') => (0, 1),
            Some('*') => (0, usize::MAX),
            Some('+') => (1, usize::MAX),
            Some('{') => {
                self.i += 1;
                let min = self.number()?;
                let max = match self.peek()? {
                    '}' => min,
                    ',' => {
                        self.i += 1;
                        if self.peek() == Some('}') {
                            usize::MAX
                        } else {
                            self.number()?
                        }
                    }
                    _ => return None,
                };
                if self.peek() != Some('}') || max < min {
                    return None;
                }
                (min, max)
            }
            _ => return Some((1, 1)),
        };
        self.i += 1;
        // Lazy/possessive suffixes are not supported.
        if matches!(self.peek(), Some('?') | Some('+')) {
            return None;
        }
        Some(q)
    }

    fn number(&mut self) -> Option<usize> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let s: String = self.c[start..self.i].iter().collect();
        s.parse().ok().filter(|n| *n <= 1000)
    }
}

fn escape_atom(e: char) -> Option<Atom> {
    let digit = vec![('0', '9')];
    let word = vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')];
    let space = vec![(' ', ' '), ('\t', '\t'), ('\n', '\n'), ('\r', '\r')];
    match e {
        'd' => Some(Atom::Class(digit, false)),
        'D' => Some(Atom::Class(digit, true)),
        'w' => Some(Atom::Class(word, false)),
        'W' => Some(Atom::Class(word, true)),
        's' => Some(Atom::Class(space, false)),
        'S' => Some(Atom::Class(space, true)),
        c if c.is_ascii_punctuation() => Some(Atom::Lit(c)),
        _ => None,
    }
}

/// All end positions reachable by any alternative starting at `start`.
fn alts_ends(
    alts: &[Vec<Piece>],
    input: &[char],
    start: usize,
    budget: &Cell<usize>,
) -> Vec<usize> {
    let mut out = vec![false; input.len() + 1];
    for seq in alts {
        let mut cur = vec![false; input.len() + 1];
        cur[start] = true;
        for piece in seq {
            cur = piece_ends(piece, input, &cur, budget);
            if !cur.iter().any(|b| *b) {
                break;
            }
        }
        for (o, c) in out.iter_mut().zip(cur) {
            *o |= c;
        }
    }
    out.iter()
        .enumerate()
        .filter(|(_, b)| **b)
        .map(|(i, _)| i)
        .collect()
}

fn piece_ends(piece: &Piece, input: &[char], from: &[bool], budget: &Cell<usize>) -> Vec<bool> {
    let n = input.len();
    let mut result = vec![false; n + 1];
    let mut cur = from.to_vec();
    if piece.min == 0 {
        result.clone_from(&cur);
    }
    // Each repetition either advances or reaches a fixed point; n + 1 rounds past `min` suffice.
    let rounds = piece.max.min(piece.min + n + 1);
    for rep in 1..=rounds {
        let mut next = vec![false; n + 1];
        for (p, _) in cur.iter().enumerate().filter(|(_, b)| **b) {
            for e in atom_ends(&piece.atom, input, p, budget) {
                next[e] = true;
            }
        }
        if !next.iter().any(|b| *b) {
            break;
        }
        if rep >= piece.min {
            for (r, x) in result.iter_mut().zip(&next) {
                *r |= *x;
            }
        }
        if next == cur && rep >= piece.min {
            break;
        }
        cur = next;
    }
    result
}

fn atom_ends(atom: &Atom, input: &[char], p: usize, budget: &Cell<usize>) -> Vec<usize> {
    // Nested counted groups multiply work; past the budget the answer is "cannot evaluate".
    if budget.get() == 0 {
        return Vec::new();
    }
    budget.set(budget.get() - 1);
    match atom {
        Atom::Group(alts) => alts_ends(alts, input, p, budget),
        single => match input.get(p) {
            Some(c) if char_matches(single, *c) => vec![p + 1],
            _ => Vec::new(),
        },
    }
}

fn char_matches(atom: &Atom, c: char) -> bool {
    match atom {
        Atom::Lit(l) => *l == c,
        Atom::Any => c != '\n',
        Atom::Class(ranges, negated) => {
            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
        Atom::Group(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str, loc: Location, role: Role, required: bool) -> Param {
        Param {
            name: name.into(),
            location: loc,
            role,
            required,
            allowed: vec![],
            pattern: None,
            default: None,
            form_pinned: false,
        }
    }

    fn inputs() -> Inputs {
        Inputs {
            base: "SOL".into(),
            spot: "SOLUSDT".into(),
            perp: "SOL-USDT-SWAP".into(),
            default_symbol_form: None,
            exchange: Some("binance".into()),
            timeframes: vec!["15m".into(), "1h".into()],
            depth: Some(50),
            days: None,
        }
    }

    #[test]
    fn pattern_alternation() {
        assert_eq!(pattern_allows("^(1h|4h|1d)$", "1h"), Some(true));
        assert_eq!(pattern_allows("^(1h|4h|1d)$", "15m"), Some(false));
        assert_eq!(pattern_allows("^(1h|4h|1d)$", "1h1"), Some(false));
        assert_eq!(pattern_allows("(1h|4h)", "x1hx"), Some(true));
        assert_eq!(pattern_allows("^(?:a|b)c$", "bc"), Some(true));
    }

    #[test]
    fn pattern_classes_and_quantifiers() {
        assert_eq!(pattern_allows("^[A-Z0-9]{2,10}$", "SOL"), Some(true));
        assert_eq!(
            pattern_allows("^[A-Z0-9]{2,10}$", "SOL-USDT-SWAP"),
            Some(false)
        );
        assert_eq!(pattern_allows("^[A-Z0-9]{2,10}$", "S"), Some(false));
        assert_eq!(pattern_allows("^[A-Za-z0-9+/]+=*$", "eyJ=="), Some(true));
        assert_eq!(pattern_allows(r"^\d+[mhd]$", "15m"), Some(true));
        assert_eq!(pattern_allows(r"^\d+[mhd]$", "m"), Some(false));
        assert_eq!(
            pattern_allows("^[A-Z]+-USDT-SWAP$", "SOL-USDT-SWAP"),
            Some(true)
        );
        assert_eq!(pattern_allows("^[^-]+$", "SOL-USDT"), Some(false));
        assert_eq!(pattern_allows("^a?b*$", ""), Some(true));
        assert_eq!(pattern_allows("^(a*)*$", &"a".repeat(200)), Some(true));
        assert_eq!(
            pattern_allows("^[^-]+-USDT-SWAP$", "SOL-USDT-SWAP"),
            Some(true)
        );
    }

    #[test]
    fn pattern_too_costly_is_none() {
        // Nested counted groups: exponential work without the step budget.
        let evil = "^(((a{1,1000}){1,1000}){1,1000})$";
        assert_eq!(pattern_allows(evil, &"a".repeat(200)), None);
    }

    #[test]
    fn pattern_unsupported_is_none() {
        assert_eq!(pattern_allows(r"^(?=x)x$", "x"), None);
        assert_eq!(pattern_allows(r"^(a)\1$", "aa"), None);
        assert_eq!(pattern_allows(r"^\p{L}+$", "a"), None);
        assert_eq!(pattern_allows("^(a$", "a"), None);
    }

    #[test]
    fn fill_picks_first_timeframe_the_pattern_allows() {
        let mut tf = param("timeframe", Location::Query, Role::Timeframe, false);
        tf.pattern = Some("^(1h|4h|1d)$".into());
        let t = RequestTemplate {
            method: "GET".into(),
            path: "/hm/{symbol}".into(),
            params: vec![
                param(
                    "symbol",
                    Location::Path,
                    Role::Symbol(SymbolForm::Base),
                    true,
                ),
                tf,
            ],
            source: Source::Spec,
        };
        let f = t.fill(&inputs()).unwrap();
        assert_eq!(f.segments, vec!["hm", "SOL"]);
        assert_eq!(f.query, vec![("timeframe".to_string(), "1h".to_string())]);
    }

    #[test]
    fn a_symbol_pattern_picks_the_form_it_accepts() {
        // The template's form is perp, the spec's pattern only accepts a bare coin.
        let mut sym = param(
            "symbol",
            Location::Query,
            Role::Symbol(SymbolForm::Perp),
            true,
        );
        sym.pattern = Some("^[A-Z]{2,10}$".into());
        let t = RequestTemplate {
            method: "GET".into(),
            path: "/hm".into(),
            params: vec![sym.clone()],
            source: Source::Spec,
        };
        let f = t.fill(&inputs()).unwrap();
        assert_eq!(f.query, vec![("symbol".to_string(), "SOL".to_string())]);
        // Glued spot ids only: the spot form.
        sym.pattern = Some("^[A-Z]+USDT$".into());
        let t = RequestTemplate {
            params: vec![sym],
            ..t
        };
        let f = t.fill(&inputs()).unwrap();
        assert_eq!(f.query, vec![("symbol".to_string(), "SOLUSDT".to_string())]);
    }

    #[test]
    fn fill_pattern_mismatch_names_pattern() {
        let mut tf = param("timeframe", Location::Query, Role::Timeframe, false);
        tf.pattern = Some("^(4h|1d)$".into());
        let t = RequestTemplate {
            method: "GET".into(),
            path: "/hm".into(),
            params: vec![tf],
            source: Source::Spec,
        };
        match t.fill(&inputs()) {
            Err(FillError::PatternMismatch { name, pattern, .. }) => {
                assert_eq!(name, "timeframe");
                assert_eq!(pattern, "^(4h|1d)$");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fill_uses_backend_spelling_and_skips_aliases() {
        let mut tf = param("timeframe", Location::Query, Role::Timeframe, false);
        tf.allowed = vec!["5m".into(), "1H".into()];
        let t = RequestTemplate {
            method: "GET".into(),
            path: "/ob".into(),
            params: vec![
                param(
                    "symbol",
                    Location::Query,
                    Role::Symbol(SymbolForm::Spot),
                    true,
                ),
                param("depth", Location::Query, Role::Depth, false),
                param("limit", Location::Query, Role::Depth, false),
                param(
                    "asset",
                    Location::Query,
                    Role::Symbol(SymbolForm::Base),
                    false,
                ),
                tf,
            ],
            source: Source::Spec,
        };
        let f = t.fill(&inputs()).unwrap();
        assert_eq!(
            f.query,
            vec![
                ("symbol".to_string(), "SOLUSDT".to_string()),
                ("depth".to_string(), "50".to_string()),
                ("timeframe".to_string(), "1H".to_string()),
            ]
        );
    }

    #[test]
    fn fill_partial_segment_placeholders_and_stray_braces() {
        let mk = |path: &str| RequestTemplate {
            method: "GET".into(),
            path: path.into(),
            params: vec![
                param(
                    "symbol",
                    Location::Path,
                    Role::Symbol(SymbolForm::Spot),
                    true,
                ),
                param("exchange", Location::Path, Role::Exchange, true),
            ],
            source: Source::Spec,
        };
        let f = mk("/ob/{exchange}-{symbol}.json").fill(&inputs()).unwrap();
        assert_eq!(f.segments, vec!["ob", "binance-SOLUSDT.json"]);
        for bad in ["/ob/{symbol", "/ob/symbol}", "/ob/{nope}"] {
            assert!(
                matches!(
                    mk(bad).fill(&inputs()),
                    Err(FillError::DanglingPlaceholder(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn fill_enum_rejects_symbol() {
        let mut s = param(
            "symbol",
            Location::Query,
            Role::Symbol(SymbolForm::Perp),
            false,
        );
        s.allowed = vec!["BTC-USDT-SWAP".into()];
        let t = RequestTemplate {
            method: "GET".into(),
            path: "/x".into(),
            params: vec![s],
            source: Source::Spec,
        };
        assert!(matches!(
            t.fill(&inputs()),
            Err(FillError::NotAllowed { .. })
        ));
    }
}
