//! Markdown for the book: tables, a benchmark's section of the *Measured*
//! chapter, the small tables other chapters include, and the targets.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use anyhow::Context;

use crate::chart::Chart;
use crate::machine::{Machine, today};
use crate::options::{Mode, Options};

/// A markdown table: the first column (or the first few) is left-aligned,
/// the others (the figures) right-aligned.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// How many leading columns are text (left-aligned).
    text_columns: usize,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|cell| cell.to_string()).collect(),
            rows: Vec::new(),
            text_columns: 1,
        }
    }

    /// Left-aligns the first `count` columns instead of only the first.
    pub fn text_columns(mut self, count: usize) -> Table {
        self.text_columns = count;
        self
    }

    /// Adds a row; it must have as many cells as the header.
    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(cells.len(), self.header.len(), "row {cells:?}");
        self.rows.push(cells);
    }

    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    pub fn markdown(&self) -> String {
        let mut text = String::new();
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        text.push_str(&line(&self.header));
        let rule: Vec<String> = (0..self.header.len())
            .map(|i| if i < self.text_columns { "---" } else { "---:" }.to_string())
            .collect();
        text.push_str(&line(&rule));
        for row in &self.rows {
            text.push_str(&line(row));
        }
        text
    }
}

/// One target of the benchmark issue and whether this run met it.
#[derive(Debug, Clone)]
pub struct Target {
    /// What was promised, e.g. "epoll's wait cost stays within 2× from 10 to
    /// 10,000 idle descriptors".
    pub what: String,
    /// What was measured, e.g. "1.3× (0.41 µs → 0.53 µs)".
    pub measured: String,
    pub met: bool,
}

/// A benchmark's section of the Measured chapter, built up piece by piece
/// and written by [`Section::write`].
pub struct Section {
    name: String,
    title: String,
    mode: Mode,
    dir: PathBuf,
    machine: Machine,
    date: String,
    body: String,
    chapter_table: Option<String>,
    targets: Vec<Target>,
    written: Vec<PathBuf>,
}

impl Section {
    /// A section for the benchmark `name` (`multiplex`: it writes
    /// `measured/multiplex.md`), titled `title`. Notes the machine and the
    /// date now, when the measurement starts.
    pub fn new(options: &Options, name: &str, title: &str) -> Section {
        Section {
            name: name.to_string(),
            title: title.to_string(),
            mode: options.mode,
            dir: options.measured_dir(),
            machine: Machine::detect(),
            date: today(),
            body: String::new(),
            chapter_table: None,
            targets: Vec::new(),
            written: Vec::new(),
        }
    }

    /// `2 cores (…), Linux …, 2026-05-01, full run`: for captions.
    pub fn provenance(&self) -> String {
        format!("{}, {}, {}", self.machine.describe(), self.date, self.mode)
    }

    /// The 1-minute load average when the section was started.
    pub fn load_average(&self) -> &str {
        &self.machine.load_average
    }

    /// A paragraph of markdown.
    pub fn paragraph(&mut self, text: &str) {
        self.body.push_str(text.trim());
        self.body.push_str("\n\n");
    }

    /// A table, printed to stdout too.
    pub fn table(&mut self, table: &Table) {
        println!("{}", table.markdown());
        self.body.push_str(&table.markdown());
        self.body.push('\n');
    }

    /// Draws `chart` into `measured/<file>` and shows it in the section.
    pub fn chart(&mut self, file: &str, alt: &str, chart: &Chart) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(file);
        chart.draw_svg(&path)?;
        self.written.push(path);
        // The section is included into book/src/measured.md, so the image
        // path is relative to book/src.
        let _ = writeln!(self.body, "![{alt}](measured/{file})\n");
        Ok(())
    }

    /// The table that the chapter making the claim includes with
    /// `{{#include ../measured/<name>-table.md}}`, with a caption under it.
    pub fn chapter_table(&mut self, table: &Table, caption: &str) {
        self.chapter_table = Some(format!(
            "{}\n*{} ({}; `just bench` measures it again.)*\n",
            table.markdown(),
            caption.trim(),
            self.provenance()
        ));
    }

    /// Records a target and whether it was met; printed now, listed at the
    /// end of the section and in the chapter's summary.
    pub fn target(&mut self, what: &str, measured: &str, met: bool) {
        println!(
            "target: {what}: {measured}: {}",
            if met { "met" } else { "missed" }
        );
        self.targets.push(Target {
            what: what.to_string(),
            measured: measured.to_string(),
            met,
        });
    }

    /// Writes `measured/<name>.md` and, if there is one, `<name>-table.md`;
    /// prints the paths of everything written.
    pub fn write(mut self) -> anyhow::Result<Vec<PathBuf>> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let mut text = format!("## {}\n\n", self.title);
        let _ = writeln!(
            text,
            "*Measured {} ({}) on {}; load average {} when it started. \
             `cargo run --release -p bench --bin bench_{}` measures it again.*\n",
            self.date,
            self.mode,
            self.machine.describe(),
            self.machine.load_average,
            self.name
        );
        text.push_str(&self.body);
        if !self.targets.is_empty() {
            text.push_str("**Targets**\n\n");
            for target in &self.targets {
                let _ = writeln!(
                    text,
                    "- {}: {} — **{}**",
                    target.what,
                    target.measured,
                    if target.met { "met" } else { "missed" }
                );
            }
            text.push('\n');
        }
        // The targets again, machine-readable, for the chapter's summary:
        // HTML comments, which the book does not show.
        for target in &self.targets {
            let _ = writeln!(
                text,
                "<!-- target\t{}\t{}\t{} -->",
                target.what,
                target.measured,
                if target.met { "met" } else { "missed" }
            );
        }
        let mut files = vec![(format!("{}.md", self.name), text)];
        if let Some(table) = self.chapter_table.take() {
            files.push((format!("{}-table.md", self.name), table));
        }
        for (file, contents) in files {
            let path = self.dir.join(file);
            fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
            self.written.push(path);
        }
        for path in &self.written {
            println!("wrote {}", path.display());
        }
        Ok(self.written)
    }
}

/// Reads back the targets a section recorded (in `measured/NAME.md`).
pub fn read_targets(section: &std::path::Path) -> Vec<Target> {
    let Ok(text) = fs::read_to_string(section) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let line = line.strip_prefix("<!-- target\t")?.strip_suffix(" -->")?;
            let mut fields = line.split('\t');
            let what = fields.next()?.to_string();
            let measured = fields.next()?.to_string();
            let met = fields.next()? == "met";
            Some(Target {
                what,
                measured,
                met,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_tables_align_figures_right() {
        let mut table = Table::new(&["server", "requests/s"]);
        table.row(vec!["ours".into(), "1,000".into()]);
        assert_eq!(
            table.markdown(),
            "| server | requests/s |\n| --- | ---: |\n| ours | 1,000 |\n"
        );
    }

    #[test]
    fn a_section_writes_its_files_and_targets() {
        let dir = std::env::temp_dir().join(format!("bench-report-{}", std::process::id()));
        let options = Options {
            mode: Mode::Smoke,
            out: dir.clone(),
            flags: Vec::new(),
        };
        let mut section = Section::new(&options, "demo", "A demo");
        section.paragraph("Some words.");
        let mut table = Table::new(&["a", "b"]);
        table.row(vec!["x".into(), "1".into()]);
        section.table(&table);
        section.chapter_table(&table, "The caption.");
        section.target("b stays at 1", "1", true);
        let written = section.write().unwrap();
        assert_eq!(written.len(), 2);
        let text = fs::read_to_string(dir.join("measured/demo.md")).unwrap();
        assert!(text.starts_with("## A demo\n\n*Measured "));
        assert!(text.contains("Some words.\n\n| a | b |"));
        assert!(
            text.ends_with(
                "- b stays at 1: 1 — **met**\n\n<!-- target\tb stays at 1\t1\tmet -->\n"
            )
        );
        let targets = read_targets(&dir.join("measured/demo.md"));
        assert_eq!(targets.len(), 1);
        assert!(targets[0].met);
        let chapter = fs::read_to_string(dir.join("measured/demo-table.md")).unwrap();
        assert!(chapter.starts_with("| a | b |\n"));
        assert!(chapter.contains("*The caption. ("));
        fs::remove_dir_all(&dir).unwrap();
    }
}
