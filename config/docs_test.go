package config

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// docPath is the user documentation whose key tables are generated from
// the table of keys.
const docPath = "../docs/configuration.md"

var update = flag.Bool("update", false, "rewrite the key tables of "+docPath+" from the table of keys")

const regenerate = "go test ./config -run TestConfigurationDoc -update"

// The generated tables sit between these markers, one pair per section.
func beginMarker(sec Section) string {
	return "<!-- keys [" + string(sec) + "]: generated from config/keys.go by `" + regenerate + "`; do not edit -->"
}
func endMarker(sec Section) string { return "<!-- end of keys [" + string(sec) + "] -->" }

// mdEscape makes plain text safe in a Markdown table cell.
var mdEscape = strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "`", "'")
var mdUnescape = strings.NewReplacer(`\|`, "|", "&lt;", "<", "&gt;", ">")

// literal reports whether v is a value key k accepts (shown as code), not
// a phrase describing a computed default.
func literal(k Key, v string) bool {
	var s Settings
	return !strings.Contains(v, "`") && k.apply(&s, v) == nil
}

func mdValue(k Key, v string) string {
	if literal(k, v) {
		return "`" + strings.ReplaceAll(v, "|", `\|`) + "`"
	}
	return mdEscape.Replace(v)
}

// keyTable renders the table of one section's keys.
func keyTable(sec Section) string {
	var b strings.Builder
	fmt.Fprintln(&b, "| key | launcher flag | default | meaning |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	for _, k := range Keys() {
		if k.Section != sec {
			continue
		}
		fl := ""
		if k.Flag != "" {
			fl = "`--" + k.Flag + "`"
		}
		def := mdValue(k, k.Default)
		if k.LauncherDefault != "" {
			def += " (" + mdValue(k, k.LauncherDefault) + " in the launcher)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, fl, def, mdEscape.Replace(k.Doc))
	}
	return b.String()
}

// generateDoc returns doc with every section's key table regenerated.
func generateDoc(doc []byte) ([]byte, error) {
	out := doc
	for _, sec := range Sections() {
		begin, end := []byte(beginMarker(sec)+"\n"), []byte(endMarker(sec))
		i := bytes.Index(out, begin)
		j := bytes.Index(out, end)
		if i < 0 || j < i {
			return nil, fmt.Errorf("%s lacks the markers of section [%s]:\n%s\n...\n%s", docPath, sec, begin, end)
		}
		i += len(begin)
		out = append(append(append([]byte(nil), out[:i]...), keyTable(sec)...), out[j:]...)
	}
	return out, nil
}

// docs/configuration.md's key tables are the table of keys, rendered.
func TestConfigurationDocUpToDate(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := generateDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if !bytes.Equal(gen, doc) {
			if err := os.WriteFile(docPath, gen, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s", docPath)
		}
		return
	}
	if !bytes.Equal(gen, doc) {
		t.Errorf("%s is stale: its key tables differ from config/keys.go; regenerate them with\n\t%s", docPath, regenerate)
	}
}

// Read back, docs/configuration.md documents every key once, in its
// section, with the table's defaults, and no other key: a check of the
// file as a reader sees it, whatever the generator does.
func TestConfigurationDocMatchesTable(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([a-z_]+)` \\| (?:`--([a-z-]+)`)? \\| (.*?) \\| ")
	launcher := regexp.MustCompile(`^(.*) \((.*) in the launcher\)$`)
	unquote := func(s string) string { return mdUnescape.Replace(strings.Trim(s, "`")) }
	seen := map[string]bool{}
	for _, sec := range Sections() {
		text := string(doc)
		i, j := strings.Index(text, beginMarker(sec)), strings.Index(text, endMarker(sec))
		if i < 0 || j < i {
			t.Fatalf("%s: no key table for section [%s]; regenerate with\n\t%s", docPath, sec, regenerate)
		}
		for _, line := range strings.Split(text[i:j], "\n") {
			m := row.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			name, fl, def := m[1], m[2], m[3]
			k, ok := Lookup(name)
			switch {
			case !ok:
				t.Errorf("%s documents key %q, which config/keys.go does not have", docPath, name)
				continue
			case seen[name]:
				t.Errorf("%s documents key %q twice", docPath, name)
			case k.Section != sec:
				t.Errorf("%s documents key %q in [%s]; config/keys.go puts it in [%s]", docPath, name, sec, k.Section)
			case fl != k.Flag:
				t.Errorf("%s gives key %q flag %q; config/keys.go: %q", docPath, name, fl, k.Flag)
			}
			seen[name] = true
			launch := ""
			if m := launcher.FindStringSubmatch(def); m != nil {
				def, launch = m[1], unquote(m[2])
			}
			if unquote(def) != k.Default || launch != k.LauncherDefault {
				t.Errorf("%s: key %q defaults to %q (launcher %q); config/keys.go: %q (launcher %q)",
					docPath, name, unquote(def), launch, k.Default, k.LauncherDefault)
			}
		}
	}
	for _, k := range Keys() {
		if !seen[k.Name] {
			t.Errorf("%s does not document key %q; regenerate with\n\t%s", docPath, k.Name, regenerate)
		}
	}
}
