"""The shared conformance suite: cases as data (tests/conformance/cases/*.toml), one runner that
drives any device adapter, and reports (JSON, JUnit XML, a case x target markdown matrix)."""
