//! The desk's pages in a real browser: each page of `support::pages` is opened in headless
//! Chromium at 1280 and 390 px (the probe of `opsledger_tests::browser`), and what the browser
//! laid out is asserted: the tab names the page, the page never scrolls sideways, and no text
//! spills out of its box or the window. Chromium missing is a failure naming how to install
//! it, never a skip.

mod support;

use opsledger_tests::browser::{assert_laid_out, chromium, probe};

#[test]
fn every_desk_page_reads_well_at_desktop_and_phone_widths() {
    let chromium = chromium();
    let version = std::process::Command::new(&chromium)
        .arg("--version")
        .output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "{} does not run: {version:?}",
        chromium.display()
    );
    let dir = tempfile::tempdir().unwrap();
    for (name, page) in support::pages() {
        let path = dir.path().join(format!("{name}.html"));
        std::fs::write(&path, &page).unwrap();
        for width in [1280, 390] {
            let found = probe(dir.path(), &path, width);
            assert_laid_out(name, width, &found, "· opsledger desk");
        }
    }
}
