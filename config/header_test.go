package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The C headers document keys in prose; these tests hold them to the
// table of keys. A failure names the header line to change.

const headerDir = "../include"

// headers returns the text of every include/*.h by file name.
func headers(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(headerDir, "*.h"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no headers in %s: %v", headerDir, err)
	}
	m := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.Base(p)] = string(b)
	}
	return m
}

// commentBefore returns the lines of the last block comment that ends
// before offset i of text, each without its leading "**" or " *".
func commentBefore(text string, i int) []string {
	end := strings.LastIndex(text[:i], "*/")
	begin := strings.LastIndex(text[:max(end, 0)], "/*")
	if end < 0 || begin < 0 {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(text[begin+2:end], "\n") {
		lines = append(lines, strings.TrimRight(leader.ReplaceAllString(l, ""), " "))
	}
	return lines
}

var leader = regexp.MustCompile(`^\s*\*{1,2}`)

// find returns the header and offset of the first match of re.
func find(t *testing.T, re *regexp.Regexp) (name, text string, at int) {
	t.Helper()
	for name, text := range headers(t) {
		if loc := re.FindStringIndex(text); loc != nil {
			return name, text, loc[0]
		}
	}
	t.Fatalf("no header in %s matches %s", headerDir, re)
	return "", "", 0
}

// headerKey maps a configuration struct field to its key: the field's
// name, or without Haywire's "http_" prefix (http_listen_port).
func headerKey(field string) (Key, bool) {
	if k, ok := Lookup(field); ok {
		return k, true
	}
	return Lookup(strings.TrimPrefix(field, "http_"))
}

// sameDefault compares a default as prose writes it with the table's:
// quotes dropped, and "1 MiB" read as 1048576.
func sameDefault(prose, table string) bool {
	prose = strings.Trim(strings.TrimSpace(prose), `"`)
	if f := strings.Fields(prose); len(f) == 2 {
		if n, err := strconv.Atoi(f[0]); err == nil {
			if shift, ok := map[string]int{"KiB": 10, "MiB": 20, "GiB": 30}[f[1]]; ok {
				prose = strconv.Itoa(n << shift)
			}
		}
	}
	return prose == table
}

// A field line's stated default: `NULL = X`, `0 = X`, `X (default`, or
// `default X`, X ending at ";", "," or " (".
var fieldDefault = []*regexp.Regexp{
	regexp.MustCompile(`(?:^|\s)(?:NULL|0) = ("[^"]*"|[^;,(]*[^;,( ])`),
	regexp.MustCompile(`("[^"]*"|\S+) \(default\b`),
	regexp.MustCompile(`\bdefault:? ("[^"]*"|[^;,(]*[^;,( ])`),
}

// The comment of Haywire's configuration struct (hw_init_with_config)
// documents each field; each field is a key of [http], and a default it
// states is the table's.
func TestHeaderConfigurationStruct(t *testing.T) {
	name, text, at := find(t, regexp.MustCompile(`\}\s*configuration\s*;`))
	start := strings.LastIndex(text[:at], "typedef struct")
	if start < 0 {
		t.Fatalf("%s: no typedef struct before } configuration;", name)
	}
	var fields []string
	for _, m := range regexp.MustCompile(`(\w+)\s*;`).FindAllStringSubmatch(text[start:at], -1) {
		fields = append(fields, m[1])
	}
	// Field lines: "   name   text"; continuations are indented deeper.
	docs := map[string]string{}
	var last string
	fieldLine := regexp.MustCompile(`^\s{1,4}([a-z_]+)\s{2,}(\S.*)$`)
	for _, l := range commentBefore(text, start) {
		if m := fieldLine.FindStringSubmatch(l); m != nil {
			last = m[1]
			docs[last] = m[2]
		} else if last != "" && strings.HasPrefix(l, strings.Repeat(" ", 6)) {
			docs[last] += " " + strings.TrimSpace(l)
		} else {
			last = ""
		}
	}
	if len(fields) == 0 || len(docs) == 0 {
		t.Fatalf("%s: found no fields (%v) or no field comments (%v) for struct configuration", name, fields, docs)
	}
	for _, f := range fields {
		if _, ok := docs[f]; !ok {
			t.Errorf("%s: field %s of struct configuration is not in its comment", name, f)
		}
	}
	for field, doc := range docs {
		k, ok := headerKey(field)
		switch {
		case !ok:
			t.Errorf("%s: struct configuration's comment names %s, which is no key of config/keys.go", name, field)
			continue
		case k.Section != SectionHTTP:
			t.Errorf("%s: struct configuration's %s is key %s of [%s], not [http]", name, field, k.Name, k.Section)
		}
		for _, re := range fieldDefault {
			m := re.FindStringSubmatch(doc)
			if m != nil {
				t.Logf("%s: %s (key %s) defaults to %s", name, field, k.Name, m[1])
			}
			if m != nil && !sameDefault(m[1], k.Default) {
				t.Errorf("%s: struct configuration's comment gives %s the default %s; config/keys.go: %q (key %s)",
					name, field, m[1], k.Default, k.Name)
			}
		}
	}
}

// hw_init_from_config's comment lists the keys of [http], every one of
// them, and the defaults it names are the table's.
func TestHeaderInitFromConfigKeys(t *testing.T) {
	name, text, at := find(t, regexp.MustCompile(`\bhw_init_from_config\s*\(\s*char`))
	doc := strings.Join(strings.Fields(strings.Join(commentBefore(text, at), " ")), " ")
	list := regexp.MustCompile(`Section \[http\]; keys: (.*?)\.\s`).FindStringSubmatch(doc)
	if list == nil {
		t.Fatalf("%s: hw_init_from_config's comment has no \"Section [http]; keys: ....\" list:\n%s", name, doc)
	}
	paren := regexp.MustCompile(`\s*\([^)]*\)`)
	listed := map[string]bool{}
	for _, item := range strings.Split(paren.ReplaceAllString(list[1], ""), ",") {
		key := strings.TrimPrefix(strings.TrimSpace(item), "and ")
		k, ok := Lookup(key)
		switch {
		case !ok:
			t.Errorf("%s: hw_init_from_config lists key %q, which config/keys.go does not have", name, key)
		case k.Section != SectionHTTP:
			t.Errorf("%s: hw_init_from_config lists key %q under [http]; config/keys.go puts it in [%s]", name, key, k.Section)
		}
		listed[key] = true
	}
	for _, k := range Keys() {
		if k.Section == SectionHTTP && !listed[k.Name] {
			t.Errorf("%s: hw_init_from_config's list of [http] keys lacks %s", name, k.Name)
		}
	}
	defs := regexp.MustCompile(`defaults: (.*?), the rest`).FindStringSubmatch(doc)
	if defs == nil {
		t.Fatalf("%s: hw_init_from_config's comment has no \"defaults: key value, ..., the rest\":\n%s", name, doc)
	}
	for _, pair := range strings.Split(paren.ReplaceAllString(defs[1], ""), ",") {
		f := strings.Fields(pair)
		if len(f) != 2 {
			t.Errorf("%s: hw_init_from_config: default %q is not \"key value\"", name, pair)
			continue
		}
		if k, ok := Lookup(f[0]); !ok || !sameDefault(f[1], k.Default) {
			t.Errorf("%s: hw_init_from_config gives %s the default %s; config/keys.go: %q", name, f[0], f[1], k.Default)
		}
	}
}

// Keys the headers use in examples exist, in the section they give:
// hw_config_set("key", ...) and "[section] key =".
func TestHeaderExampleKeys(t *testing.T) {
	set := regexp.MustCompile(`hw_config_set\("([^"]+)"`)
	inSection := regexp.MustCompile(`\[(\w+)\]\s+(\w+)\s*=`)
	n := 0
	for name, text := range headers(t) {
		for _, m := range set.FindAllStringSubmatch(text, -1) {
			n++
			if _, ok := Lookup(m[1]); !ok {
				t.Errorf("%s: %s names no key of config/keys.go", name, m[0])
			}
		}
		for _, m := range inSection.FindAllStringSubmatch(text, -1) {
			n++
			if k, ok := Lookup(m[2]); !ok || string(k.Section) != m[1] {
				t.Errorf("%s: %q: config/keys.go has %s in [%s] (known: %v)", name, m[0], m[2], k.Section, ok)
			}
		}
	}
	if n == 0 {
		t.Errorf("no key examples found in %s; the patterns may be stale", headerDir)
	}
}
