//! A small view of PowerShell scripts parsed with tree-sitter-powershell, for the agent
//! bundle's contract tests: functions with their parameters and `# record:` annotations,
//! commands with their parameters and arguments, `[ordered]@{}` literals and their keys.

use tree_sitter::{Node, Parser, Tree};

/// One parsed script.
pub struct Script {
    pub name: String,
    pub source: String,
    tree: Tree,
}

/// A function definition.
pub struct Function<'a> {
    pub name: String,
    pub node: Node<'a>,
    /// Parameter names, without `$`.
    pub params: Vec<String>,
    /// The schema reference of a `# record: <ref>` comment on the line above.
    pub record: Option<String>,
}

/// A command invocation with a plain name (`Get-VM -Id $x`).
pub struct Command<'a> {
    pub name: String,
    pub node: Node<'a>,
    /// Each `-Parameter` (without `-` and a trailing `:`), with the node of the argument
    /// that follows it, if any.
    pub params: Vec<(String, Option<Node<'a>>)>,
}

impl Script {
    pub fn parse(name: &str, source: &str) -> Script {
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_powershell::LANGUAGE.into())
            .expect("the powershell grammar loads");
        let tree = parser
            .parse(source, None)
            .expect("the parser returns a tree");
        Script {
            name: name.to_owned(),
            source: source.to_owned(),
            tree,
        }
    }

    pub fn root(&self) -> Node<'_> {
        self.tree.root_node()
    }

    pub fn text(&self, node: Node<'_>) -> &str {
        node.utf8_text(self.source.as_bytes()).unwrap_or("")
    }

    /// Where a node is, for messages: `file:line:column`.
    pub fn at(&self, node: Node<'_>) -> String {
        let p = node.start_position();
        format!("{}:{}:{}", self.name, p.row + 1, p.column + 1)
    }

    /// Every node, depth first.
    pub fn nodes(&self) -> Vec<Node<'_>> {
        descendants(self.root())
    }

    /// ERROR and MISSING nodes, with where they are.
    pub fn syntax_errors(&self) -> Vec<String> {
        self.nodes()
            .into_iter()
            .filter(|n| n.is_error() || n.is_missing())
            .map(|n| {
                let snippet: String = self.text(n).chars().take(60).collect();
                format!(
                    "{}: {} {snippet:?}",
                    self.at(n),
                    if n.is_missing() { "missing" } else { "error" }
                )
            })
            .collect()
    }

    pub fn functions(&self) -> Vec<Function<'_>> {
        let lines: Vec<&str> = self.source.lines().collect();
        self.nodes()
            .into_iter()
            .filter(|n| n.kind() == "function_statement")
            .filter_map(|node| {
                let name = children(node)
                    .into_iter()
                    .find(|c| c.kind() == "function_name")?;
                let params = descendants(node)
                    .into_iter()
                    .filter(|n| n.kind() == "script_parameter")
                    .filter(|n| enclosing_function(*n) == Some(node))
                    .filter_map(|p| children(p).into_iter().find(|c| c.kind() == "variable"))
                    .map(|v| self.text(v).trim_start_matches('$').to_owned())
                    .collect();
                let row = node.start_position().row;
                let record = row
                    .checked_sub(1)
                    .and_then(|r| lines.get(r))
                    .and_then(|l| l.trim().strip_prefix("# record:"))
                    .map(|r| r.trim().to_owned());
                Some(Function {
                    name: self.text(name).to_owned(),
                    node,
                    params,
                    record,
                })
            })
            .collect()
    }

    /// Commands invoked by name under `node`.
    pub fn commands<'t>(&'t self, node: Node<'t>) -> Vec<Command<'t>> {
        descendants(node)
            .into_iter()
            .filter(|n| n.kind() == "command")
            .filter_map(|command| {
                let name = children(command)
                    .into_iter()
                    .find(|c| c.kind() == "command_name")?;
                let mut params = Vec::new();
                if let Some(elements) = children(command)
                    .into_iter()
                    .find(|c| c.kind() == "command_elements")
                {
                    let items: Vec<Node> = children(elements)
                        .into_iter()
                        .filter(|c| c.kind() != "command_argument_sep")
                        .collect();
                    for (i, item) in items.iter().enumerate() {
                        if item.kind() == "command_parameter" {
                            let param = self
                                .text(*item)
                                .trim_start_matches('-')
                                .trim_end_matches(':')
                                .to_owned();
                            let argument = items
                                .get(i + 1)
                                .copied()
                                .filter(|n| n.kind() != "command_parameter");
                            params.push((param, argument));
                        }
                    }
                }
                Some(Command {
                    name: self.text(name).to_owned(),
                    node: command,
                    params,
                })
            })
            .collect()
    }

    /// The keys of each `[ordered]@{...}` literal under `node`, with the literal's node.
    pub fn ordered_literals<'t>(&'t self, node: Node<'t>) -> Vec<(Node<'t>, Vec<String>)> {
        descendants(node)
            .into_iter()
            .filter(|n| n.kind() == "cast_expression")
            .filter(|n| {
                children(*n).into_iter().any(|c| {
                    c.kind() == "type_literal" && self.text(c).eq_ignore_ascii_case("[ordered]")
                })
            })
            .filter_map(|cast| {
                let hash = children(cast)
                    .into_iter()
                    .flat_map(|c| std::iter::once(c).chain(children(c)))
                    .find(|c| c.kind() == "hash_literal_expression")?;
                Some((hash, self.hash_keys(hash)))
            })
            .collect()
    }

    /// The keys of a hash literal (quotes removed).
    pub fn hash_keys(&self, hash: Node<'_>) -> Vec<String> {
        children(hash)
            .into_iter()
            .filter(|c| c.kind() == "hash_literal_body")
            .flat_map(children)
            .filter(|e| e.kind() == "hash_entry")
            .filter_map(|e| {
                children(e)
                    .into_iter()
                    .find(|c| c.kind() == "key_expression")
            })
            .map(|k| unquote(self.text(k)))
            .collect()
    }

    /// The value of a string-literal argument (`'x'` or `"x"` without `$`), if it is one.
    pub fn string_value(&self, node: Node<'_>) -> Option<String> {
        let literal = descendants(node)
            .into_iter()
            .find(|n| n.kind() == "string_literal")?;
        let text = self.text(node).trim();
        (text == self.text(literal).trim()).then(|| unquote(text))
    }
}

/// A node's direct children.
pub fn children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.children(&mut cursor).collect()
}

/// A node and all below it, depth first.
pub fn descendants(node: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        out.push(n);
        let mut kids = children(n);
        kids.reverse();
        stack.extend(kids);
    }
    out
}

/// The innermost function a node is in.
pub fn enclosing_function(node: Node<'_>) -> Option<Node<'_>> {
    let mut current = node.parent();
    while let Some(n) = current {
        if n.kind() == "function_statement" {
            return Some(n);
        }
        current = n.parent();
    }
    None
}

/// A key or string without its quotes ('' and `" unescaped).
pub fn unquote(text: &str) -> String {
    let t = text.trim();
    if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
        t[1..t.len() - 1].replace("''", "'")
    } else if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t[1..t.len() - 1].to_owned()
    } else {
        t.to_owned()
    }
}
