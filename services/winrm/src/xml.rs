//! A small namespace-aware element tree over quick-xml, and escaping for the writers.
//!
//! Elements and attributes are identified by (namespace URI, local name), never by prefix.
//! Unqualified attributes (pywinrm sends `mustUnderstand` without a prefix) are matched by
//! local name.

use std::borrow::Cow;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// Deepest nesting accepted; WS-Man envelopes are about 8 levels deep.
const MAX_DEPTH: usize = 64;

/// Why a document could not be read as XML.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// quick-xml rejected the document.
    #[error("malformed xml at byte {position}")]
    Syntax {
        position: u64,
        #[source]
        source: quick_xml::Error,
    },
    /// The document is not UTF-8.
    #[error("xml document is not utf-8")]
    NotUtf8(#[source] std::str::Utf8Error),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("xml nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A prefix is used without a declaration.
    #[error("xml prefix of element or attribute `{0}` is not declared")]
    UnknownPrefix(String),
    /// There is no root element, or more than one.
    #[error("xml document has no single root element")]
    NoRoot,
    /// An entity other than the five predefined ones or a character reference.
    #[error("xml entity `&{0};` is not supported")]
    Entity(String),
}

/// One attribute, with its namespace if it had a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub ns: Option<String>,
    pub name: String,
    pub value: String,
}

/// One element with its attributes, child elements and concatenated text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub attrs: Vec<Attribute>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// True when this element is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    /// The first child `{ns}name`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// All children `{ns}name`, in document order.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// Follows a path of `(ns, name)` steps through first matching children.
    pub fn path(&self, steps: &[(&str, &str)]) -> Option<&Element> {
        let mut cur = self;
        for (ns, name) in steps {
            cur = cur.child(ns, name)?;
        }
        Some(cur)
    }

    /// The value of the attribute with this local name, qualified or not.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The text content with surrounding whitespace removed.
    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }
}

fn ns_of(res: ResolveResult<'_>, qname: &str) -> Result<Option<String>, XmlError> {
    match res {
        ResolveResult::Bound(ns) => Ok(Some(ns.as_ref().to_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(_) => Err(XmlError::UnknownPrefix(qname.to_owned())),
    }
}

fn predefined_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

/// Parses a whole document into its root element.
pub fn parse(input: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(input).map_err(XmlError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let syntax = |reader: &NsReader<&[u8]>, source| XmlError::Syntax {
        position: reader.buffer_position(),
        source,
    };
    loop {
        let event = reader.read_event().map_err(|e| syntax(&reader, e))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let (res, local) = reader.resolver().resolve_element(start.name());
                let ns = ns_of(res, start.name().as_ref())?;
                let mut el = Element {
                    ns,
                    name: local.as_ref().to_owned(),
                    ..Element::default()
                };
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| syntax(&reader, e.into()))?;
                    let key = attr.key;
                    if key.as_ref() == "xmlns" || key.as_ref().starts_with("xmlns:") {
                        continue;
                    }
                    let (res, local) = reader.resolver().resolve_attribute(key);
                    let ns = ns_of(res, key.as_ref())?;
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| syntax(&reader, e))?;
                    el.attrs.push(Attribute {
                        ns,
                        name: local.as_ref().to_owned(),
                        value: value.into_owned(),
                    });
                }
                if matches!(event, Event::Empty(_)) {
                    attach(&mut stack, &mut root, el)?;
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or(XmlError::NoRoot)?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = if r.is_char_ref() {
                    match r.resolve_char_ref().map_err(|e| syntax(&reader, e))? {
                        Some(c) => Cow::Owned(c.to_string()),
                        None => return Err(XmlError::Entity(r.to_string())),
                    }
                } else {
                    match predefined_entity(&r) {
                        Some(s) => Cow::Borrowed(s),
                        None => return Err(XmlError::Entity(r.to_string())),
                    }
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::NoRoot);
    }
    root.ok_or(XmlError::NoRoot)
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => {
            if root.is_some() {
                return Err(XmlError::NoRoot);
            }
            *root = Some(el);
        }
    }
    Ok(())
}

/// Escapes text or an attribute value for the writers (`&`, `<`, `>`, `"`, `'`).
pub fn escape(s: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces_not_prefixes() {
        let doc = br#"<a:Root xmlns:a="urn:x" xmlns:b="urn:y"><b:Child b:k="v" plain="p">t &amp; &#65;</b:Child><Child xmlns="urn:y"/></a:Root>"#;
        let root = parse(doc).unwrap();
        assert!(root.is("urn:x", "Root"));
        let kids: Vec<_> = root.children_named("urn:y", "Child").collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0].text, "t & A");
        assert_eq!(kids[0].attr("k"), Some("v"));
        assert_eq!(kids[0].attr("plain"), Some("p"));
        assert_eq!(kids[0].attrs[0].ns.as_deref(), Some("urn:y"));
    }

    #[test]
    fn rejects_garbage_and_unknown_prefixes() {
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<x:a/>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<a/><b/>").is_err());
        assert!(matches!(parse(b"<a>&foo;</a>"), Err(XmlError::Entity(_))));
    }

    #[test]
    fn rejects_deep_nesting() {
        let doc = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(matches!(parse(doc.as_bytes()), Err(XmlError::TooDeep)));
    }
}
