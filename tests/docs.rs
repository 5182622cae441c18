//! The docs check: README.md and docs/*.md against the code. Every config key, metric name and
//! HTTP route the docs name must exist in the code (the settings key tree of
//! `chatseal::settings::key_paths`, the catalogue `chatseal_actors::telemetry::names::ALL`, the
//! router's `chatseal::http::ROUTES`), and the reverse: every key is named in
//! docs/configuration.md, every metric in docs/metrics.md, every route in docs/http-api.md.
//! Relative links must lead to a file (and heading) inside the repository, and README.md must
//! link every page of docs/ (its map). Each problem names
//! the file, the line, the name and what to do, so whoever merges a new key, metric or route
//! sees exactly which page to fix.
//!
//! What counts as naming something (docs/decisions.md, "The docs check"):
//! * a metric: any lowercase word `chatseal_…` (prose or code), not followed by `::`; a
//!   histogram's `_bucket`, `_sum` and `_count` series count as the histogram;
//! * a config key: a dotted word in backticks whose first part is a section of the key tree
//!   (`store.flush_interval`, `sealing.centiweights`), unless it is a failpoint named in the
//!   source (`backup.rename`), a file name (`backup.rs`) or part of a path, URL or host
//!   (`twitch.tv/tags`); and any `CHATSEAL__SECTION__KEY`;
//! * a route: a word in backticks starting with `/v1` or made of one segment (`/metrics`),
//!   query string dropped, optionally after its method (`POST /v1/admin/seal`); a concrete
//!   path such as `/v1/epochs/5/lacy` matches the route's `{placeholders}`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use chatseal::http::{Route, ROUTES};
use chatseal_actors::telemetry::names::{Kind, ALL as METRICS};

/// One markdown file: its path relative to the repository root, and its text.
struct Doc {
    path: String,
    text: String,
}

/// What the code defines.
struct Code {
    keys: Vec<String>,
    metrics: Vec<(String, Kind)>,
    routes: Vec<Route>,
    failpoints: BTreeSet<String>,
    /// Files present in the repository, relative to its root, for the link check.
    files: BTreeSet<String>,
}

const CONFIG_PAGE: &str = "docs/configuration.md";
const METRICS_PAGE: &str = "docs/metrics.md";
const ROUTES_PAGE: &str = "docs/http-api.md";
const FILE_EXTENSIONS: &[&str] =
    &["rs", "md", "toml", "json", "jsonl", "yml", "yaml", "db", "pgdump", "log", "mjs", "service", "txt", "sh", "lock"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn docs_name_what_the_code_has_and_the_reverse() {
    let root = repo();
    let mut docs = vec![read_doc(&root, "README.md")];
    let dir = root.join("docs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    for name in names {
        docs.push(read_doc(&root, &format!("docs/{name}")));
    }
    let code = Code {
        keys: chatseal::settings::key_paths().unwrap_or_else(|e| panic!("the settings defaults do not serialise: {e}")),
        metrics: METRICS.iter().map(|d| (d.name.to_owned(), d.kind)).collect(),
        routes: ROUTES.to_vec(),
        failpoints: failpoints(&root),
        files: repo_files(&root),
    };
    assert!(code.keys.len() > 10, "the key tree looks empty: {:?}", code.keys);
    let problems = check(&docs, &code);
    assert!(
        problems.is_empty(),
        "the docs and the code disagree ({} problems):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

fn read_doc(root: &Path, rel: &str) -> Doc {
    let path = root.join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Doc { path: rel.to_owned(), text }
}

/// Every failpoint name in the source (`fail_point!("backup.rename"`): dotted like a config key,
/// but not one.
fn failpoints(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for crate_dir in ["src", "actors/src", "schema/src"] {
        for file in walk(&root.join(crate_dir)) {
            if file.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                for piece in text.split("fail_point!(\"").skip(1) {
                    if let Some(end) = piece.find('"') {
                        out.insert(piece[..end].to_owned());
                    }
                }
            }
        }
    }
    out
}

fn repo_files(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for file in walk(root) {
        if let Ok(rel) = file.strip_prefix(root) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            // Directories are link targets too: record every ancestor.
            let mut acc = String::new();
            for part in rel.split('/') {
                if !acc.is_empty() {
                    acc.push('/');
                }
                acc.push_str(part);
                out.insert(acc.clone());
            }
        }
    }
    out
}

/// The files below `dir`, skipping build output, dependencies and VCS data (bounded: no links).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if matches!(name.as_ref(), "target" | ".git" | "node_modules") {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(t) if t.is_file() => out.push(entry.path()),
                _ => {}
            }
        }
    }
    out
}

/// Every disagreement between the docs and the code, one line each.
fn check(docs: &[Doc], code: &Code) -> Vec<String> {
    let mut problems = Vec::new();
    let sections: BTreeSet<&str> = code.keys.iter().filter_map(|k| k.split('.').next()).collect();
    let mut pages: HashMap<&str, &Doc> = HashMap::new();
    for doc in docs {
        pages.insert(doc.path.as_str(), doc);
        for (line, text) in lines(&doc.text) {
            if text.contains("shared/spec") {
                problems.push(format!(
                    "{}:{line}: points at shared/spec, outside the repository: say what the rule \
                     is in our docs instead",
                    doc.path
                ));
            }
        }
        forward_metrics(doc, code, &mut problems);
        forward_keys(doc, code, &sections, &mut problems);
        forward_routes(doc, code, &mut problems);
        links(doc, docs, code, &mut problems);
    }
    reverse(&pages, code, &mut problems);
    map(docs, &mut problems);
    problems
}

/// Every page of docs/ is linked from the README's map of docs/.
fn map(docs: &[Doc], problems: &mut Vec<String>) {
    let Some(readme) = docs.iter().find(|d| d.path == "README.md") else {
        return;
    };
    let linked: BTreeSet<String> = link_targets(&readme.text)
        .into_iter()
        .map(|(_, t)| t.split('#').next().unwrap_or_default().to_owned())
        .collect();
    for doc in docs.iter().filter(|d| d.path.starts_with("docs/")) {
        if !linked.contains(&doc.path) {
            problems.push(format!("{} is not linked from README.md: add it to the map of docs/", doc.path));
        }
    }
}

fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l))
}

/// Words made of `[A-Za-z0-9_]`, with their byte offset.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let inside = c.is_ascii_alphanumeric() || c == '_';
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

fn forward_metrics(doc: &Doc, code: &Code, problems: &mut Vec<String>) {
    for (line, text) in lines(&doc.text) {
        for (at, word) in words(text) {
            if !word.starts_with("chatseal_")
                || word.chars().any(|c| c.is_ascii_uppercase())
                || text[at + word.len()..].starts_with("::")
            {
                continue;
            }
            if metric_base(word, code).is_none() {
                problems.push(format!(
                    "{}:{line}: names the metric `{word}`, which is not in the catalogue \
                     (actors/src/telemetry/names.rs): fix the name or remove it",
                    doc.path
                ));
            }
        }
    }
}

/// The catalogue metric a series name belongs to (a histogram's `_bucket`/`_sum`/`_count`).
fn metric_base<'c>(word: &str, code: &'c Code) -> Option<&'c str> {
    if let Some((name, _)) = code.metrics.iter().find(|(n, _)| n == word) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = word.strip_suffix(suffix)?;
        code.metrics.iter().find(|(n, k)| n == base && *k == Kind::Histogram).map(|(n, _)| n.as_str())
    })
}

/// The text inside backticks (inline spans and fenced blocks), per line.
fn code_spans(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (line, l) in lines(text) {
        if l.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            out.push((line, l.to_owned()));
            continue;
        }
        let mut parts = l.split('`');
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.next()) {
            out.push((line, inside.to_owned()));
        }
        // An unclosed backtick at the end of a line: the rest is not code.
    }
    out
}

/// Dotted words (`[a-z0-9_]` parts joined by dots) not part of a path, URL or flag.
fn dotted_words(span: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = span.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphanumeric() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.') {
                i += 1;
            }
            let word = span[start..i].trim_end_matches('.');
            let before = start.checked_sub(1).map(|b| bytes[b]);
            let after = bytes.get(i).copied();
            let glued =
                matches!(before, Some(b'/' | b'-' | b':' | b'@' | b'.')) || matches!(after, Some(b'/' | b'@' | b':'));
            if word.contains('.') && !glued {
                out.push(word.to_owned());
            }
        } else {
            i += 1;
        }
    }
    out
}

fn forward_keys(doc: &Doc, code: &Code, sections: &BTreeSet<&str>, problems: &mut Vec<String>) {
    let known = |name: &str| code.keys.iter().any(|k| k == name || k.starts_with(&format!("{name}.")));
    for (line, span) in code_spans(&doc.text) {
        for word in dotted_words(&span) {
            let first = word.split('.').next().unwrap_or_default();
            let last = word.rsplit('.').next().unwrap_or_default();
            if !sections.contains(first)
                || word.chars().any(|c| c.is_ascii_uppercase())
                || FILE_EXTENSIONS.contains(&last)
                || code.failpoints.contains(&word)
            {
                continue;
            }
            if !known(&word) {
                problems.push(format!(
                    "{}:{line}: names the config key `{word}`, which is not in the settings key \
                     tree (src/settings/model.rs): fix the name or remove it",
                    doc.path
                ));
            }
        }
    }
    for (line, text) in lines(&doc.text) {
        for (_, word) in words(text) {
            let Some(rest) = word.strip_prefix("CHATSEAL__") else {
                continue;
            };
            let key = rest.to_ascii_lowercase().replace("__", ".");
            let first = key.split('.').next().unwrap_or_default();
            if sections.contains(first) && !known(&key) {
                problems.push(format!(
                    "{}:{line}: names the environment variable `{word}`, but `{key}` is not in the \
                     settings key tree (src/settings/model.rs): fix the name or remove it",
                    doc.path
                ));
            }
        }
    }
}

/// Route-like words of a code span: `(method, path)` with the query string dropped.
fn route_words(span: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut method = None;
    for word in span.split_whitespace() {
        if matches!(word, "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD") {
            method = Some(word.to_owned());
            continue;
        }
        let path = word.split('?').next().unwrap_or_default();
        let path = path.trim_end_matches([',', '.', ';', ')']);
        let Some(rest) = path.strip_prefix('/') else {
            method = None;
            continue;
        };
        let one_segment = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '-');
        if rest == "v1" || rest.starts_with("v1/") || one_segment {
            out.push((method.take(), path.to_owned()));
        } else {
            method = None;
        }
    }
    out
}

/// Whether a path named in the docs is served by `route` (placeholders match any segment).
fn path_matches(doc_path: &str, route: &str) -> bool {
    let a: Vec<&str> = doc_path.trim_end_matches('/').split('/').collect();
    let b: Vec<&str> = route.split('/').collect();
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| x == y || (y.starts_with('{') && y.ends_with('}') && !x.is_empty()))
}

fn forward_routes(doc: &Doc, code: &Code, problems: &mut Vec<String>) {
    for (line, span) in code_spans(&doc.text) {
        for (method, path) in route_words(&span) {
            let served = code
                .routes
                .iter()
                .any(|r| path_matches(&path, r.path) && method.as_deref().is_none_or(|m| m == r.method));
            if !served {
                let shown = match &method {
                    Some(m) => format!("{m} {path}"),
                    None => path.clone(),
                };
                problems.push(format!(
                    "{}:{line}: names the HTTP route `{shown}`, which the router does not serve \
                     (ROUTES in src/http/mod.rs): fix it or remove it",
                    doc.path
                ));
            }
        }
    }
}

fn reverse(pages: &HashMap<&str, &Doc>, code: &Code, problems: &mut Vec<String>) {
    let page = |name: &str, problems: &mut Vec<String>| match pages.get(name) {
        Some(doc) => Some(*doc),
        None => {
            problems.push(format!("{name} does not exist: it must list what the code has"));
            None
        }
    };
    if let Some(doc) = page(CONFIG_PAGE, problems) {
        let named: BTreeSet<String> = code_spans(&doc.text).iter().flat_map(|(_, s)| dotted_words(s)).collect();
        for key in &code.keys {
            if !named.contains(key) {
                problems.push(format!(
                    "config key `{key}` (src/settings/model.rs) is not named in {CONFIG_PAGE}: \
                     add it with its unit and default"
                ));
            }
        }
    }
    if let Some(doc) = page(METRICS_PAGE, problems) {
        let named: BTreeSet<&str> = lines(&doc.text).flat_map(|(_, l)| words(l).into_iter().map(|(_, w)| w)).collect();
        for (name, _) in &code.metrics {
            if !named.contains(name.as_str()) {
                problems.push(format!(
                    "metric `{name}` (actors/src/telemetry/names.rs) is not named in \
                     {METRICS_PAGE}: add it with its type, labels and meaning"
                ));
            }
        }
    }
    if let Some(doc) = page(ROUTES_PAGE, problems) {
        for r in &code.routes {
            let wanted = format!("{} {}", r.method, r.path);
            // The whole path: `POST /v1/admin/backups` does not name `POST /v1/admin/backup`.
            let named = doc.text.match_indices(&wanted).any(|(at, _)| {
                doc.text[at + wanted.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || "/{_-".contains(c)))
            });
            if !named {
                problems.push(format!(
                    "route `{wanted}` (ROUTES in src/http/mod.rs) is not named in {ROUTES_PAGE}: \
                     add it with its answer"
                ));
            }
        }
    }
}

/// Relative links (`[text](target)` and `[ref]: target`) outside code.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (line, l) in lines(text) {
        if l.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop inline code so `[a](b)` inside backticks is not a link.
        let prose: String =
            l.split('`').enumerate().filter(|(i, _)| i % 2 == 0).map(|(_, s)| s).collect::<Vec<_>>().join(" ");
        for piece in prose.split("](").skip(1) {
            if let Some(end) = piece.find(')') {
                let target = piece[..end].split_whitespace().next().unwrap_or_default();
                out.push((line, target.to_owned()));
            }
        }
        let t = prose.trim_start();
        if t.starts_with('[') {
            if let Some(pos) = t.find("]: ") {
                out.push((line, t[pos + 3..].trim().to_owned()));
            }
        }
    }
    out
}

fn links(doc: &Doc, docs: &[Doc], code: &Code, problems: &mut Vec<String>) {
    let base = Path::new(&doc.path).parent().unwrap_or(Path::new(""));
    for (line, target) in link_targets(&doc.text) {
        if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = match target.split_once('#') {
            Some((f, a)) => (f, Some(a)),
            None => (target.as_str(), None),
        };
        let resolved = if file.is_empty() { Some(doc.path.clone()) } else { normalise(&base.join(file)) };
        let Some(resolved) = resolved else {
            problems.push(format!(
                "{}:{line}: the link `{target}` leads outside the repository: link a page of \
                 docs/ instead",
                doc.path
            ));
            continue;
        };
        if !code.files.contains(&resolved) {
            problems.push(format!("{}:{line}: the link `{target}` is dead: {resolved} does not exist", doc.path));
            continue;
        }
        if let Some(anchor) = anchor.filter(|a| !a.is_empty()) {
            if let Some(linked) = docs.iter().find(|d| d.path == resolved) {
                if !heading_slugs(&linked.text).contains(anchor) {
                    problems.push(format!(
                        "{}:{line}: the link `{target}` is dead: {resolved} has no heading \
                         #{anchor}",
                        doc.path
                    ));
                }
            }
        }
    }
}

/// `a/b/../c` -> `a/c`; `None` when it climbs above the repository root or is absolute.
fn normalise(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/").trim_end_matches('/').to_owned())
}

/// GitHub's anchors of a page's headings: lowercase, punctuation dropped, spaces to hyphens,
/// repeats numbered `-1`, `-2`.
fn heading_slugs(text: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for (_, l) in lines(text) {
        if l.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !l.starts_with('#') {
            continue;
        }
        let title = l.trim_start_matches('#').trim();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        let unique = if *n == 0 { slug.clone() } else { format!("{slug}-{n}") };
        *n += 1;
        out.insert(unique);
    }
    out
}

// The check itself, on small made-up pages: each kind of problem is caught and named.

fn toy_code() -> Code {
    Code {
        keys: vec!["store.url".into(), "store.flush_interval".into(), "sealing.centiweights.bits".into()],
        metrics: vec![
            ("chatseal_events_durable_total".into(), Kind::Counter),
            ("chatseal_flush_duration_seconds".into(), Kind::Histogram),
        ],
        routes: vec![
            Route { method: "GET", path: "/metrics" },
            Route { method: "GET", path: "/v1/epochs/{epoch}/{channel}" },
        ],
        failpoints: ["store.crash".to_owned()].into(),
        files: ["README.md", "docs", "docs/configuration.md", "docs/metrics.md", "docs/http-api.md"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

fn toy_docs(extra: &str) -> Vec<Doc> {
    let page = |path: &str, text: &str| Doc { path: path.into(), text: text.into() };
    vec![
        page(
            "README.md",
            &format!(
                "# Top\n\nSee [config](docs/configuration.md#keys).\n{extra}\n\
                 [m](docs/metrics.md) [h](docs/http-api.md)\n"
            ),
        ),
        page("docs/configuration.md", "## Keys\n\n`store.url`, `store.flush_interval`, `sealing.centiweights.bits`\n"),
        page(
            "docs/metrics.md",
            "chatseal_events_durable_total and `chatseal_flush_duration_seconds_bucket`\n\
             chatseal_flush_duration_seconds\n",
        ),
        page("docs/http-api.md", "`GET /metrics`, `GET /v1/epochs/{epoch}/{channel}`\n"),
    ]
}

#[test]
fn the_check_passes_pages_that_agree_with_the_code() {
    let extra = "`CHATSEAL__STORE__URL`, `sealing.centiweights`, the `store.crash` failpoint, \
                 `src/store.rs`, `GET /v1/epochs/5/lacy`, `/v1/epochs/{epoch}/{channel}?x=1`, \
                 `chatseal_bench_N`, `CAP REQ :store.urlx/tags store.urlx/x`, [self](#top), \
                 [docs](docs)\n";
    let problems = check(&toy_docs(extra), &toy_code());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_check_names_each_unknown_name_and_dead_link() {
    let extra = "`store.flush_intervall` and CHATSEAL__STORE__URLS\n\
                 chatseal_events_lost_total\n\
                 `POST /v1/epochs/5/lacy` and `/healthz`\n\
                 [gone](docs/nothing.md) [anchor](docs/metrics.md#nope) [out](../shared/x.md)\n";
    let problems = check(&toy_docs(extra), &toy_code());
    let expect = [
        "README.md:4: names the config key `store.flush_intervall`",
        "README.md:4: names the environment variable `CHATSEAL__STORE__URLS`",
        "README.md:5: names the metric `chatseal_events_lost_total`",
        "README.md:6: names the HTTP route `POST /v1/epochs/5/lacy`",
        "README.md:6: names the HTTP route `/healthz`",
        "README.md:7: the link `docs/nothing.md` is dead",
        "README.md:7: the link `docs/metrics.md#nope` is dead",
        "README.md:7: the link `../shared/x.md` leads outside the repository",
    ];
    for e in expect {
        assert!(problems.iter().any(|p| p.starts_with(e)), "missing {e:?} in {problems:#?}");
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
}

#[test]
fn the_check_names_what_the_pages_leave_out() {
    let mut code = toy_code();
    code.keys.push("store.max_pending_events".into());
    code.metrics.push(("chatseal_store_up".into(), Kind::Gauge));
    code.routes.push(Route { method: "POST", path: "/v1/admin/seal" });
    let mut docs = toy_docs("");
    docs.retain(|d| d.path != "docs/metrics.md");
    docs.retain(|d| d.path != "docs/http-api.md");
    docs.push(Doc {
        path: "docs/http-api.md".into(),
        text: "`GET /metrics`, `GET /v1/epochs/{epoch}/{channel}`, `POST /v1/admin/sealed`\n".into(),
    });
    let problems = check(&docs, &code);
    let expect = [
        "config key `store.max_pending_events` (src/settings/model.rs) is not named in docs/configuration.md",
        "docs/metrics.md does not exist",
        "route `POST /v1/admin/seal` (ROUTES in src/http/mod.rs) is not named in docs/http-api.md",
    ];
    for e in expect {
        assert!(problems.iter().any(|p| p.starts_with(e)), "missing {e:?} in {problems:#?}");
    }
    let mut docs = toy_docs("");
    docs.retain(|d| d.path != "docs/configuration.md");
    docs.push(Doc {
        path: "docs/configuration.md".into(),
        text: "## Keys\n\n`store.url`, `sealing.centiweights.bits`, and store.flush_interval outside \
               backticks\n"
            .into(),
    });
    let problems = check(&docs, &toy_code());
    assert_eq!(
        problems,
        ["config key `store.flush_interval` (src/settings/model.rs) is not named in \
          docs/configuration.md: add it with its unit and default"],
    );
}

#[test]
fn the_check_names_a_page_the_readme_map_leaves_out() {
    let mut docs = toy_docs("");
    docs.push(Doc { path: "docs/limits.md".into(), text: "# Limits\n".into() });
    let mut code = toy_code();
    code.files.insert("docs/limits.md".into());
    assert_eq!(check(&docs, &code), ["docs/limits.md is not linked from README.md: add it to the map of docs/"]);
}

// ---- Alerts: every rule has a row, a runbook line and promtool unit tests (issue 21) ----

const ALERT_RULES: &str = "deploy/prometheus/alerts.yml";
const ALERT_TESTS: &str = "deploy/prometheus/alerts_test.yml";
const ALERTS_PAGE: &str = "docs/alerts.md";

/// The names of the rules of an alerts.yml (`- alert: Name` lines).
fn alert_names(rules: &str) -> Vec<String> {
    rules.lines().filter_map(|l| l.trim_start().strip_prefix("- alert:")).map(|n| n.trim().to_string()).collect()
}

/// What is missing for each rule of `rules`: a row of the table in `page` (a line starting
/// "| `Name` |"), a paragraph of its "## Runbook" section naming it in bold, and in `tests` (a
/// promtool test file) a case where it fires (`exp_alerts:` followed by a list) and one where
/// it must not (`exp_alerts: []`).
fn alert_problems(rules: &str, tests: &str, page: &str) -> Vec<String> {
    let runbook: String = page
        .split("\n## ")
        .find(|s| s.starts_with("Runbook"))
        .map(|s| s.lines().filter(|l| !l.starts_with("| ")).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default();
    let test_lines: Vec<&str> = tests.lines().map(str::trim).collect();
    let cases = |name: &str| -> (bool, bool) {
        let mut fires = false;
        let mut silent = false;
        for (i, l) in test_lines.iter().enumerate() {
            if l.strip_prefix("alertname:").map(str::trim) != Some(name) {
                continue;
            }
            match test_lines.get(i + 1).and_then(|n| n.strip_prefix("exp_alerts:")).map(str::trim) {
                Some("[]") => silent = true,
                Some("") => fires = true,
                _ => {}
            }
        }
        (fires, silent)
    };
    let mut problems = Vec::new();
    let names = alert_names(rules);
    if names.is_empty() {
        problems.push(format!("{ALERT_RULES} has no `- alert:` rule"));
    }
    for name in names {
        if !page.lines().any(|l| l.starts_with(&format!("| `{name}` |"))) {
            problems
                .push(format!("alert {name}: no row `| `{name}` | severity | fires when | for |` in {ALERTS_PAGE}"));
        }
        if !runbook.contains(&format!("**{name}**")) {
            problems
                .push(format!("alert {name}: no paragraph naming **{name}** under \"## Runbook\" in {ALERTS_PAGE}"));
        }
        let (fires, silent) = cases(&name);
        if !fires {
            problems
                .push(format!("alert {name}: no promtool case in {ALERT_TESTS} where it fires (exp_alerts: a list)"));
        }
        if !silent {
            problems.push(format!(
                "alert {name}: no promtool case in {ALERT_TESTS} where it stays silent (exp_alerts: [])"
            ));
        }
    }
    problems
}

#[test]
fn every_alert_has_a_row_a_runbook_line_and_promtool_tests() {
    let root = repo();
    let read = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"));
    let rules = read(ALERT_RULES);
    assert!(alert_names(&rules).len() >= 16, "{:?}", alert_names(&rules));
    let problems = alert_problems(&rules, &read(ALERT_TESTS), &read(ALERTS_PAGE));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_alert_check_names_what_is_missing() {
    let rules = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n      - alert: B\n        expr: x > 1\n";
    let tests = "      - eval_time: 1m\n        alertname: A\n        exp_alerts: []\n      - eval_time: 2m\n        \
                 alertname: A\n        exp_alerts:\n          - exp_labels: {}\n      - eval_time: 2m\n        \
                 alertname: B\n        exp_alerts: []\n";
    let page =
        "# Alerts\n\n| `A` | critical | down | 1m |\n| `B` | warning | x | 0m |\n\n## Runbook\n\n**A**: restart.\n\n\
                ## How the rules are tested\n\n**B**: not a runbook line here.\n";
    assert_eq!(
        alert_problems(rules, tests, page),
        [
            "alert B: no paragraph naming **B** under \"## Runbook\" in docs/alerts.md",
            "alert B: no promtool case in deploy/prometheus/alerts_test.yml where it fires (exp_alerts: a list)",
        ]
    );
}
