//! No module of ours imports a module that imports it back.
//!
//! Two files that import each other can only be read, changed and tested together, and the
//! layout stops saying which one is the foundation. This test reads the source of every crate of
//! the workspace (the daemon, the actor core, the benchmark) with `syn`, follows each `use` item,
//! and each `crate::…`/`super::…` path written inline, to the module that defines what it names
//! (through re-exports), and fails naming every circle it finds. Test code (`#[cfg(test)]`) is
//! left out: a test may look anywhere.
//!
//! Why not `cargo modules dependencies --acyclic`: it builds rust-analyzer's crates (still
//! compiling after six minutes on CI's two cores) to answer this one question; `syn` is already
//! in the build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The roots of the crates whose modules are checked, from the workspace's root.
const CRATE_ROOTS: [&str; 4] = [
    "src/lib.rs",
    "src/main.rs",
    "actors/src/lib.rs",
    "bench/src/main.rs",
];

/// One module: a file, or a `mod name { … }` inside one.
struct Module {
    /// Where it is written, for the report (`file.rs` or `file.rs::inline`).
    place: String,
    /// Where its `mod child;` files are looked for.
    child_dir: PathBuf,
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    /// Names of the items it defines.
    items: BTreeSet<String>,
    /// Names it brings into scope with `use`, and the path each stands for.
    imports: BTreeMap<String, Vec<String>>,
    /// Every path it refers to through our own modules, from `use` items and inline paths.
    refers_to: Vec<Vec<String>>,
}

/// What a path names: a module itself, or an item that a module defines.
#[derive(Clone, Copy)]
enum Target {
    Module(usize),
    ItemIn(usize),
}

impl Target {
    fn module(self) -> usize {
        match self {
            Self::Module(id) | Self::ItemIn(id) => id,
        }
    }
}

/// The modules of one crate, the crate root first.
#[derive(Default)]
struct Crate {
    modules: Vec<Module>,
}

impl Crate {
    fn read(root: &Path) -> Self {
        let mut krate = Self::default();
        let dir = root
            .parent()
            .expect("a crate root lies in a folder")
            .to_owned();
        krate.add_file(root, dir, None);
        krate
    }

    fn add_file(&mut self, file: &Path, child_dir: PathBuf, parent: Option<usize>) -> usize {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", file.display()));
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|err| panic!("cannot parse {}: {err}", file.display()));
        let place = file.display().to_string();
        self.add_items(&parsed.items, place, child_dir, parent)
    }

    fn add_items(
        &mut self,
        items: &[syn::Item],
        place: String,
        child_dir: PathBuf,
        parent: Option<usize>,
    ) -> usize {
        let id = self.modules.len();
        self.modules.push(Module {
            place,
            child_dir,
            parent,
            children: BTreeMap::new(),
            items: BTreeSet::new(),
            imports: BTreeMap::new(),
            refers_to: Vec::new(),
        });
        for item in items.iter().filter(|item| !is_test_only(item)) {
            self.add_item(id, item);
        }
        let mut paths = InlinePaths::default();
        for item in items.iter().filter(|item| !is_test_only(item)) {
            if !matches!(item, syn::Item::Use(_) | syn::Item::Mod(_)) {
                paths.visit_item(item);
            }
        }
        self.modules[id].refers_to.extend(paths.0);
        id
    }

    fn add_item(&mut self, id: usize, item: &syn::Item) {
        let name = match item {
            syn::Item::Use(item) => {
                let mut flat = Vec::new();
                flatten(&item.tree, &mut Vec::new(), &mut flat);
                for (binding, path) in flat {
                    if let Some(binding) = binding {
                        self.modules[id].imports.insert(binding, path.clone());
                    }
                    self.modules[id].refers_to.push(path);
                }
                return;
            }
            syn::Item::Mod(item) => {
                let name = item.ident.to_string();
                let dir = self.modules[id].child_dir.join(&name);
                let child = match &item.content {
                    Some((_, items)) => {
                        let place = format!("{}::{name}", self.modules[id].place);
                        self.add_items(items, place, dir, Some(id))
                    }
                    None => {
                        let flat = self.modules[id].child_dir.join(format!("{name}.rs"));
                        let file = if flat.exists() {
                            flat
                        } else {
                            dir.join("mod.rs")
                        };
                        self.add_file(&file, dir, Some(id))
                    }
                };
                self.modules[id].children.insert(name, child);
                return;
            }
            syn::Item::Const(item) => &item.ident,
            syn::Item::Enum(item) => &item.ident,
            syn::Item::Fn(item) => &item.sig.ident,
            syn::Item::Macro(item) => match &item.ident {
                Some(ident) => ident,
                None => return,
            },
            syn::Item::Static(item) => &item.ident,
            syn::Item::Struct(item) => &item.ident,
            syn::Item::Trait(item) => &item.ident,
            syn::Item::Type(item) => &item.ident,
            syn::Item::Union(item) => &item.ident,
            _ => return,
        };
        self.modules[id].items.insert(name.to_string());
    }

    /// The module that defines what `path`, written in module `from`, names; `None` for other
    /// crates' items.
    fn resolve(&self, from: usize, path: &[String], depth: usize) -> Option<Target> {
        if depth > 16 || path.is_empty() {
            return None;
        }
        let (mut at, rest) = match path[0].as_str() {
            "crate" => (0, &path[1..]),
            "self" => (from, &path[1..]),
            "super" => (self.modules[from].parent?, &path[1..]),
            first => match self.modules[from].children.get(first) {
                Some(&child) => (child, &path[1..]),
                None => {
                    let import = self.modules[from].imports.get(first)?;
                    let mut whole = import.clone();
                    whole.extend_from_slice(&path[1..]);
                    return self.resolve(from, &whole, depth + 1);
                }
            },
        };
        let Some((last, middle)) = rest.split_last() else {
            return Some(Target::Module(at));
        };
        for segment in middle {
            at = match self.step(at, segment, depth)? {
                Target::Module(next) => next,
                // A path through an item (`Enum::Variant`) depends on the item's module.
                item @ Target::ItemIn(_) => return Some(item),
            };
        }
        match last.as_str() {
            "*" => Some(Target::Module(at)),
            last => self.step(at, last, depth),
        }
    }

    /// What `name` is inside module `at`.
    fn step(&self, at: usize, name: &str, depth: usize) -> Option<Target> {
        let module = &self.modules[at];
        if name == "super" {
            return module.parent.map(Target::Module);
        }
        if let Some(&child) = module.children.get(name) {
            return Some(Target::Module(child));
        }
        if !module.items.contains(name)
            && let Some(import) = module.imports.get(name)
        {
            return self.resolve(at, import, depth + 1);
        }
        Some(Target::ItemIn(at))
    }

    /// Every module's imports of other modules of this crate.
    fn edges(&self) -> BTreeMap<usize, BTreeSet<usize>> {
        let mut edges: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for (from, module) in self.modules.iter().enumerate() {
            for path in &module.refers_to {
                if let Some(target) = self.resolve(from, path, 0)
                    && target.module() != from
                {
                    edges.entry(from).or_default().insert(target.module());
                }
            }
        }
        edges
    }

    /// The import circles: groups of two or more modules that each reach all the others.
    fn circles(&self) -> Vec<Vec<usize>> {
        let edges = self.edges();
        let reach: Vec<BTreeSet<usize>> = (0..self.modules.len())
            .map(|start| reachable(&edges, start))
            .collect();
        let mut seen = BTreeSet::new();
        let mut circles = Vec::new();
        for start in 0..self.modules.len() {
            if seen.contains(&start) {
                continue;
            }
            let circle: Vec<usize> = reach[start]
                .iter()
                .copied()
                .filter(|&other| other != start && reach[other].contains(&start))
                .collect();
            if !circle.is_empty() {
                let mut circle = circle;
                circle.push(start);
                circle.sort_unstable();
                seen.extend(circle.iter().copied());
                circles.push(circle);
            }
        }
        circles
    }

    /// A circle in words: each module and what it imports from the others in it.
    fn describe(&self, circle: &[usize]) -> String {
        let edges = self.edges();
        let mut text = String::new();
        for &from in circle {
            for to in edges.get(&from).into_iter().flatten() {
                if circle.contains(to) {
                    let (a, b) = (&self.modules[from].place, &self.modules[*to].place);
                    text.push_str(&format!("  {a} -> {b}\n"));
                }
            }
        }
        text
    }
}

/// The modules reachable from `start` by one or more imports.
fn reachable(edges: &BTreeMap<usize, BTreeSet<usize>>, start: usize) -> BTreeSet<usize> {
    let mut reached = BTreeSet::new();
    let mut next: Vec<usize> = edges.get(&start).into_iter().flatten().copied().collect();
    while let Some(module) = next.pop() {
        if reached.insert(module) {
            next.extend(edges.get(&module).into_iter().flatten().copied());
        }
    }
    reached
}

/// Whether an item exists only in test builds.
fn is_test_only(item: &syn::Item) -> bool {
    let attrs = match item {
        syn::Item::Mod(item) => &item.attrs,
        syn::Item::Use(item) => &item.attrs,
        syn::Item::Fn(item) => &item.attrs,
        syn::Item::Impl(item) => &item.attrs,
        _ => return false,
    };
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string() == "test")
    })
}

/// Each name a `use` tree binds (none for a glob) with the whole path it stands for.
fn flatten(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Option<String>, Vec<String>)>,
) {
    match tree {
        syn::UseTree::Path(path) => {
            prefix.push(path.ident.to_string());
            flatten(&path.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(name) if name.ident == "self" => {
            out.push((prefix.last().cloned(), prefix.clone()));
        }
        syn::UseTree::Name(name) => {
            let mut path = prefix.clone();
            path.push(name.ident.to_string());
            out.push((Some(name.ident.to_string()), path));
        }
        syn::UseTree::Rename(rename) => {
            let mut path = prefix.clone();
            if rename.ident != "self" {
                path.push(rename.ident.to_string());
            }
            out.push((Some(rename.rename.to_string()), path));
        }
        syn::UseTree::Glob(_) => {
            let mut path = prefix.clone();
            path.push("*".to_owned());
            out.push((None, path));
        }
        syn::UseTree::Group(group) => {
            for tree in &group.items {
                flatten(tree, prefix, out);
            }
        }
    }
}

/// The paths of two or more segments written inline, outside `use` items.
#[derive(Default)]
struct InlinePaths(Vec<Vec<String>>);

impl<'ast> Visit<'ast> for InlinePaths {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect();
        // `Type::method` and `std::…` resolve to nothing of ours, or to what a `use` already
        // named; `crate::x::Y`, `super::Y` and `child::Y` are edges no `use` shows.
        if segments.len() > 1 {
            self.0.push(segments);
        }
        syn::visit::visit_path(self, path);
    }

    // `pub(super)` and `pub(in crate::x)` say who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    // Test modules and test functions nested in an item.
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_only(item) {
            syn::visit::visit_item(self, item);
        }
    }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut report = String::new();
    let mut modules = 0;
    for root in CRATE_ROOTS {
        let krate = Crate::read(&workspace.join(root));
        modules += krate.modules.len();
        for circle in krate.circles() {
            report.push_str(&format!("a circle of {} modules:\n", circle.len()));
            report.push_str(&krate.describe(&circle));
        }
    }
    assert!(
        modules > 50,
        "only {modules} modules found: is the source read?"
    );
    assert!(report.is_empty(), "import circles:\n{report}");
}

/// The checker itself finds a circle, through a re-export, and ignores test code.
#[test]
fn a_circle_through_a_reexport_is_found_and_test_code_is_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("lib.rs", "mod a;\nmod b;\npub use b::Thing;\n");
    write("a.rs", "use crate::Thing;\npub struct Other(Thing);\n");
    write(
        "b.rs",
        "pub struct Thing;\nfn f(_: super::a::Other) {}\n\
         #[cfg(test)]\nmod tests { use crate::a::Other; }\n",
    );
    let krate = Crate::read(&dir.path().join("lib.rs"));
    let circles = krate.circles();
    assert_eq!(circles.len(), 1, "{}", krate.describe(&circles[0]));
    let places: Vec<&str> = circles[0]
        .iter()
        .map(|&id| krate.modules[id].place.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(places, ["a.rs", "b.rs"]);

    write(
        "b.rs",
        "pub struct Thing;\n#[cfg(test)]\nmod tests { use crate::a::Other; }\n",
    );
    assert!(Crate::read(&dir.path().join("lib.rs")).circles().is_empty());
}
