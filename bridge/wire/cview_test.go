package wire_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
)

// The C side of the bridge protocol: include/haywire_bridge.h, exercised
// through tests/c/bridge_check.c (which includes only that header and
// libc). These tests compile it with gcc and check that the header's
// view validator, accessors, response encoder and field splitter agree
// with this package: two implementations of one contract. The header's
// layout macros are compared with this package's constants by package
// bridge/wire/internal/bridgecheck.

// buildBridgeCheck compiles tests/c/bridge_check.c, with AddressSanitizer
// and UBSan when the toolchain has them (so a C read past a view fails the
// run), else without. It skips the test when gcc is not installed.
func buildBridgeCheck(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skipf("gcc not found in PATH (%v): the C bridge tests need a C11 compiler", err)
	}
	out := filepath.Join(t.TempDir(), "bridge_check")
	if runtime.GOOS == "windows" {
		out += ".exe"
	}
	base := []string{"-std=c11", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2", "-I", filepath.Join(bridgetest.Root(t), "include")}
	src := filepath.Join(bridgetest.Root(t), "tests", "c", "bridge_check.c")
	san := []string{"-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"}
	args := append(append(append([]string{}, base...), san...), "-o", out, src)
	if exec.Command(gcc, args...).Run() == nil && exec.Command(out, "layout").Run() == nil {
		return out
	}
	t.Log("sanitizers unavailable: building bridge_check without them")
	args = append(append([]string{}, base...), "-o", out, src)
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// runCheck runs bridge_check and returns its output lines.
func runCheck(t *testing.T, bin string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bridge_check %s: %v\n%s", strings.Join(args, " "), err, trim(stderr.String(), 4000))
	}
	var lines []string
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// writeRecords writes recs as bridge_check reads them: u32 length, bytes.
func writeRecords(t *testing.T, recs [][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range recs {
		buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(r))))
		buf.Write(r)
	}
	path := filepath.Join(t.TempDir(), "records")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func TestCBridge(t *testing.T) {
	bin := buildBridgeCheck(t)
	t.Run("Methods", func(t *testing.T) { testCMethods(t, bin) })
	t.Run("Views", func(t *testing.T) { testCViews(t, bin) })
	t.Run("Fields", func(t *testing.T) { testCFields(t, bin) })
	t.Run("Response", func(t *testing.T) { testCResponse(t, bin) })
}

// testCMethods: HW_BRIDGE_METHOD_MAP, expanded by the C compiler (X macro
// and enum), is the table the header's text shows (which
// TestContractMethodNumbering compares with the parser and haywire.h).
func testCMethods(t *testing.T, bin string) {
	want := bridgetest.MethodTable(t, "haywire_bridge.h", "HW_BRIDGE_METHOD_MAP")
	got := map[int][2]string{}
	for _, line := range runCheck(t, bin, "methods") {
		f := strings.Fields(line)
		n, err := strconv.Atoi(f[0])
		if len(f) != 3 || err != nil {
			t.Fatalf("methods line %q", line)
		}
		got[n] = [2]string{f[1], f[2]}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) < 26 {
		t.Errorf("C expands HW_BRIDGE_METHOD_MAP to\n%v\nthe header's text reads\n%v", got, want)
	}
}

// --- Views: verdicts and accessors ---

type viewCase struct {
	kind string // how it was made
	b    []byte
}

func fill(rng *rand.Rand, n int, printable bool) []byte {
	b := make([]byte, n)
	for i := range b {
		if printable {
			b[i] = byte(' ' + rng.IntN(95))
		} else {
			b[i] = byte(rng.Uint32())
		}
	}
	return b
}

// upto returns a random int in [0, n], 0 when n < 0.
func upto(rng *rand.Rand, n int) int {
	if n <= 0 {
		return 0
	}
	return rng.IntN(n + 1)
}

func randAddrPort(rng *rand.Rand) netip.AddrPort {
	switch rng.IntN(4) {
	case 0:
		return netip.AddrPort{}
	case 1:
		var a [4]byte
		binary.LittleEndian.PutUint32(a[:], rng.Uint32())
		return netip.AddrPortFrom(netip.AddrFrom4(a), uint16(rng.Uint32()))
	default:
		var a [16]byte
		binary.LittleEndian.PutUint64(a[:], rng.Uint64())
		binary.LittleEndian.PutUint64(a[8:], rng.Uint64())
		return netip.AddrPortFrom(netip.AddrFrom16(a), uint16(rng.Uint32()))
	}
}

// randViewRequest returns a request whose view is valid: every span lies
// in the head, every field name is non-empty.
func randViewRequest(rng *rand.Rand) *wire.ViewRequest {
	headLen := rng.IntN(400)
	switch rng.IntN(10) {
	case 0:
		headLen = rng.IntN(3)
	case 1:
		headLen = 1000 + rng.IntN(3000)
	}
	span := func(min int) wire.Span {
		if headLen < min {
			return wire.Span{}
		}
		off := upto(rng, headLen-min)
		l := min + upto(rng, headLen-off-min)
		switch rng.IntN(6) { // the edges: ending at the head's end, empty
		case 0:
			l = headLen - off
		case 1:
			if min == 0 {
				off, l = headLen, 0
			}
		}
		return wire.Span{uint32(off), uint32(l)}
	}
	v := &wire.ViewRequest{
		Flags: uint16(rng.Uint32()), MethodID: uint8(rng.Uint32()), Minor: uint8(rng.Uint32()),
		RequestID: rng.Uint64(), ConnID: rng.Uint64(),
		Head:       fill(rng, headLen, rng.IntN(2) == 0),
		MethodSpan: span(0), TargetSpan: span(0), PathSpan: span(0), QuerySpan: span(0),
		AuthoritySpan: span(0), HostSpan: span(0),
		Remote: randAddrPort(rng), Local: randAddrPort(rng),
	}
	if rng.IntN(3) == 0 {
		v.QuerySpan = wire.Span{Len: wire.NoQuery}
		if rng.IntN(2) == 0 {
			v.QuerySpan.Off = rng.Uint32() // ignored when there is no query
		}
	}
	if rng.IntN(4) != 0 {
		v.Body = fill(rng, rng.IntN(300), false)
	}
	switch rng.IntN(4) {
	case 0:
		v.ContentLength = -1
	case 1:
		v.ContentLength = int64(rng.Uint64())
	default:
		v.ContentLength = int64(len(v.Body))
	}
	if headLen > 0 {
		n := rng.IntN(12)
		if rng.IntN(25) == 0 {
			n = rng.IntN(400)
		}
		for range n {
			v.Fields = append(v.Fields, wire.FieldSpan{span(1), span(0)})
		}
	}
	return v
}

// u32 fields of a view: the fixed header's, and the first few field
// entries'.
func u32Offsets(b []byte) []int {
	offs := []int{32, 36, 40, 44, 132}
	for i := 0; i < 6; i++ {
		offs = append(offs, 48+8*i, 52+8*i)
	}
	if len(b) >= wire.ViewHeaderLen {
		tab := int(binary.LittleEndian.Uint32(b[132:]))
		n := int(binary.LittleEndian.Uint16(b[6:]))
		for i := 0; i < min(n, 4); i++ {
			if e := tab + 16*i; e+16 <= len(b) {
				offs = append(offs, e, e+4, e+8, e+12)
			}
		}
	}
	return offs
}

// mutate returns a copy of the valid view b with one corruption aimed at
// a boundary of the validation rules.
func mutate(rng *rand.Rand, good []byte) (string, []byte) {
	le := binary.LittleEndian
	b := bytes.Clone(good)
	headLen := int64(le.Uint32(b[36:]))
	size := int64(len(b))
	put := func(off int, v int64) { le.PutUint32(b[off:], uint32(v)) }
	get := func(off int) int64 { return int64(le.Uint32(b[off:])) }
	delta := int64(rng.IntN(3) - 1)
	switch rng.IntN(12) {
	case 0: // a few random bytes in the fixed header or table
		for range 1 + rng.IntN(3) {
			b[rng.IntN(min(len(b), wire.ViewHeaderLen+64))] = byte(rng.Uint32())
		}
		return "flip-header", b
	case 1: // a few random bytes anywhere
		for range 1 + rng.IntN(3) {
			b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		}
		return "flip", b
	case 2: // a u32 field set to an interesting value
		offs := u32Offsets(b)
		off := offs[rng.IntN(len(offs))]
		cands := []int64{0, 1, 135, 136, 137, headLen - 1, headLen, headLen + 1, size - 1, size, size + 1,
			math.MaxUint32, math.MaxUint32 - 1, 1 << 31, get(off) + 1, get(off) - 1, int64(rng.Uint32())}
		put(off, cands[rng.IntN(len(cands))])
		return "u32", b
	case 3: // a span (header or field entry) moved to end exactly at, or just past, the head's end
		offs := u32Offsets(b)[5:]
		off := offs[rng.IntN(len(offs)/2)*2]
		if rng.IntN(2) == 0 {
			put(off, headLen-get(off+4)+delta)
		} else {
			put(off+4, headLen-get(off)+delta)
		}
		return "span-edge", b
	case 4: // off + len wraps in 32 bits: must be rejected
		offs := u32Offsets(b)[5:]
		off := offs[rng.IntN(len(offs)/2)*2]
		k := int64(rng.IntN(int(headLen) + 2))
		put(off, math.MaxUint32-k)
		put(off+4, k+1+int64(rng.IntN(int(headLen)+1)))
		return "span-wrap", b
	case 5: // a section ending at, or just past, the view's end
		switch rng.IntN(3) {
		case 0:
			put(36, size-get(32)+delta)
		case 1:
			put(44, size-get(40)+delta)
		default:
			put(132, size-16*int64(le.Uint16(b[6:]))+delta)
		}
		return "section-edge", b
	case 6: // a section's offset moved, possibly below the fixed header
		off := []int{32, 40, 132}[rng.IntN(3)]
		put(off, []int64{0, 8, 134, 135, 136, 137, get(off) - 1, get(off) + 1}[rng.IntN(8)])
		return "section-offset", b
	case 7: // the field count
		n := int64(le.Uint16(b[6:]))
		le.PutUint16(b[6:], uint16([]int64{0, n - 1, n + 1, math.MaxUint16, int64(rng.Uint32())}[rng.IntN(5)]))
		return "count", b
	case 8: // the version
		le.PutUint16(b[0:], uint16([]int64{0, 2, 0x100, 0x0101, int64(rng.Uint32())}[rng.IntN(5)]))
		return "version", b
	case 9: // truncated
		n := []int{rng.IntN(len(b) + 1), len(b) - 1, wire.ViewHeaderLen, wire.ViewHeaderLen - 1, 0}[rng.IntN(5)]
		return "truncate", b[:max(n, 0)]
	case 10: // extended: trailing bytes are allowed
		return "extend", append(b, fill(rng, 1+rng.IntN(50), false)...)
	default: // the query span's length: NoQuery (off ignored) or just below it
		put(76, []int64{wire.NoQuery, wire.NoQuery - 1, 0}[rng.IntN(3)])
		if rng.IntN(2) == 0 {
			put(72, int64(rng.Uint32()))
		}
		return "query", b
	}
}

// structuredView returns random bytes shaped like a view: version 1 and
// small offsets, so that overlapping and out-of-order sections, spans near
// the head's end and empty names are accepted or rejected near the rules'
// edges.
func structuredView(rng *rand.Rand) []byte {
	le := binary.LittleEndian
	n := wire.ViewHeaderLen + rng.IntN(300)
	b := fill(rng, n, false)
	count := rng.IntN(6)
	pos := func() int { // anywhere, a little past the end, sometimes inside the fixed header
		if rng.IntN(6) == 0 {
			return rng.IntN(wire.ViewHeaderLen + 1)
		}
		return wire.ViewHeaderLen + rng.IntN(n-wire.ViewHeaderLen+8)
	}
	tab := pos()
	if rng.IntN(2) == 0 {
		tab = wire.ViewHeaderLen + upto(rng, n-wire.ViewHeaderLen-16*count)
	}
	headOff, bodyOff := pos(), pos()
	headLen := upto(rng, n-headOff+1)
	bodyLen := upto(rng, n-bodyOff+1)
	switch rng.IntN(4) {
	case 0:
		bodyOff, bodyLen = rng.IntN(wire.ViewHeaderLen), rng.IntN(40) // body overlapping the fixed header
	case 1, 2: // packed as the format requires (when it fits); spans decide
		if fixed := wire.ViewHeaderLen + 16*count; fixed <= n {
			tab, headOff = wire.ViewHeaderLen, fixed
			headLen = upto(rng, n-headOff+1)
			bodyOff, bodyLen = headOff+headLen, n-headOff-headLen
		}
	}
	span := func(e int, allowEmpty bool) {
		off := upto(rng, headLen+1)
		l := upto(rng, headLen-off+1)
		if !allowEmpty && rng.IntN(4) != 0 && l == 0 && off < headLen {
			l = 1
		}
		le.PutUint32(b[e:], uint32(off))
		le.PutUint32(b[e+4:], uint32(l))
	}
	if tab+16*count <= n {
		for i := range count {
			span(tab+16*i, rng.IntN(8) == 0)
			span(tab+16*i+8, true)
		}
	}
	le.PutUint16(b[0:], wire.ViewVersion)
	le.PutUint16(b[6:], uint16(count))
	le.PutUint32(b[32:], uint32(headOff))
	le.PutUint32(b[36:], uint32(headLen))
	le.PutUint32(b[40:], uint32(bodyOff))
	le.PutUint32(b[44:], uint32(bodyLen))
	le.PutUint32(b[132:], uint32(tab))
	for i := range 6 {
		span(48+8*i, true)
	}
	if rng.IntN(3) == 0 {
		le.PutUint32(b[76:], wire.NoQuery)
	}
	return b
}

func fnv32(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
}

// goViewLine is what bridge_check prints for an accepted view, from the Go
// accessors. A range is OFFSET+LEN:FNV-1a, OFFSET from the start of the
// view; the accessors alias b, so cap(b)-cap(s) is s's offset in b.
func goViewLine(b []byte, v wire.View) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "ok fl=%d mid=%d mi=%d rid=%d cid=%d cl=%d nf=%d",
		v.Flags(), v.MethodID(), v.Minor(), v.RequestID(), v.ConnID(), v.ContentLength(), v.NumFields())
	rng := func(key string, s []byte, present bool) {
		if !present {
			fmt.Fprintf(&sb, " %s=-", key)
			return
		}
		fmt.Fprintf(&sb, " %s=%d+%d:%08x", key, cap(b)-cap(s), len(s), fnv32(s))
	}
	rng("head", v.Head(), true)
	rng("body", v.Body(), true)
	rng("method", v.Method(), true)
	rng("target", v.Target(), true)
	rng("path", v.Path(), true)
	q, hasQ := v.Query()
	rng("query", q, hasQ)
	rng("authority", v.Authority(), true)
	rng("host", v.Host(), true)
	for _, a := range []struct {
		key string
		ap  netip.AddrPort
	}{{"remote", v.Remote()}, {"local", v.Local()}} {
		ip := a.ap.Addr().As16()
		fmt.Fprintf(&sb, " %s=%x/%d", a.key, ip[:], a.ap.Port())
	}
	for i := range v.NumFields() {
		name, value := v.Field(i)
		rng("name", name, true)
		rng("value", value, true)
	}
	return sb.String()
}

// testCViews: (a) for thousands of views -- valid ones from EncodeView,
// their corruptions at the rules' edges, truncations, view-shaped random
// bytes and plain random bytes -- hw_bridge_view_check and DecodeView give
// the same verdict; (b) for every accepted one, the C accessors return the
// same ranges of the same bytes as the Go ones.
func testCViews(t *testing.T, bin string) {
	rng := rand.New(rand.NewPCG(2024, 7))
	var cases []viewCase
	for range 1500 {
		good := bridgetest.EncView(randViewRequest(rng))
		cases = append(cases, viewCase{"valid", good})
		for range 3 {
			kind, b := mutate(rng, good)
			cases = append(cases, viewCase{kind, b})
		}
	}
	for range 3000 {
		cases = append(cases, viewCase{"structured", structuredView(rng)})
	}
	for range 300 {
		b := fill(rng, rng.IntN(400), false)
		if len(b) >= 2 && rng.IntN(2) == 0 {
			b[0], b[1] = 1, 0
		}
		cases = append(cases, viewCase{"random", b})
	}
	recs := make([][]byte, len(cases))
	for i, c := range cases {
		recs[i] = c.b
	}
	lines := runCheck(t, bin, "views", writeRecords(t, recs))
	if len(lines) != len(cases) {
		t.Fatalf("bridge_check printed %d lines for %d views", len(lines), len(cases))
	}
	type tally struct{ accepted, rejected int }
	stats := map[string]*tally{}
	codes := map[string]int{}
	lowBody := 0
	var verdictErrs, accessorErrs int
	for i, c := range cases {
		v, err := wire.DecodeView(c.b)
		line := lines[i]
		cOK := strings.HasPrefix(line, "ok ")
		if stats[c.kind] == nil {
			stats[c.kind] = &tally{}
		}
		if (err == nil) != cOK || (!cOK && !strings.HasPrefix(line, "reject ")) {
			if verdictErrs++; verdictErrs <= 10 {
				t.Errorf("view %d (%s, %d bytes): Go: %v; C: %s\nfixed header: %x",
					i, c.kind, len(c.b), err, trim(line, 300), c.b[:min(len(c.b), wire.ViewHeaderLen)])
			}
			continue
		}
		if !cOK {
			stats[c.kind].rejected++
			codes[strings.Fields(line)[1]]++
			continue
		}
		stats[c.kind].accepted++
		if binary.LittleEndian.Uint32(c.b[40:]) < wire.ViewHeaderLen {
			lowBody++
		}
		if want := goViewLine(c.b, v); line != want {
			if accessorErrs++; accessorErrs <= 10 {
				t.Errorf("view %d (%s): accessors differ\n   C: %s\n  Go: %s", i, c.kind, trim(line, 2000), trim(want, 2000))
			}
		}
	}
	if verdictErrs+accessorErrs > 0 {
		t.Fatalf("%d verdicts and %d accessor results of %d views differ", verdictErrs, accessorErrs, len(cases))
	}
	t.Logf("%d views agree; by kind (accepted/rejected): %s; rejections by C code: %v; accepted with body below the fixed header: %d",
		len(cases), fmtStats(stats), codes, lowBody)
	// The corpus must reach both verdicts and every rule.
	if s := stats["valid"]; s.rejected != 0 || s.accepted != 1500 {
		t.Errorf("valid views: %d accepted, %d rejected", s.accepted, s.rejected)
	}
	for _, code := range []string{"-1", "-2", "-3", "-4", "-5"} {
		if codes[code] < 20 {
			t.Errorf("only %d rejections with code %s: the corpus misses a rule", codes[code], code)
		}
	}
	if s := stats["structured"]; s.accepted < 100 || s.rejected < 100 {
		t.Errorf("structured views: %d accepted, %d rejected; want both", s.accepted, s.rejected)
	}
	if lowBody != 0 {
		t.Errorf("%d views accepted with their body below the fixed header; the packed layout forbids it", lowBody)
	}
}

func fmtStats[T any](m map[string]*T) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %v", k, *m[k]))
	}
	return strings.Join(parts, ", ")
}

// --- Header blocks ---

// goFieldsLine is what bridge_check prints for a header block.
func goFieldsLine(block []byte) string {
	var sb strings.Builder
	f := block
	for len(f) > 0 {
		name, value, rest, ok := wire.NextField(f)
		if !ok {
			break
		}
		fmt.Fprintf(&sb, "%x:%x ", name, value)
		f = rest
	}
	if len(f) == 0 {
		sb.WriteString("end")
	} else {
		sb.WriteString("stop")
	}
	return sb.String()
}

// testCFields: hw_bridge_next_field splits header blocks as NextField
// does, well-formed or not.
func testCFields(t *testing.T, bin string) {
	rng := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"Name", "x", "X-Y", ":", ": ", ":\t", " ", "\t", "\r", "\n", "\r\n", "value", "a b", "::", "\x00"}
	var blocks [][]byte
	for range 2000 {
		var b []byte
		if rng.IntN(2) == 0 { // well-formed lines, with odd whitespace now and then
			for range rng.IntN(6) {
				ws := []string{"", " ", "  ", "\t", " \t "}[rng.IntN(5)]
				b = fmt.Appendf(b, "%s:%s%s%s\r\n", []string{"A", "Content-Type", "x-y"}[rng.IntN(3)], ws,
					fill(rng, rng.IntN(12), true), []string{"", " ", "\t"}[rng.IntN(3)])
			}
			if rng.IntN(4) == 0 { // a damaged tail
				b = append(b, pieces[rng.IntN(len(pieces))]...)
			}
		} else {
			for range rng.IntN(10) {
				b = append(b, pieces[rng.IntN(len(pieces))]...)
			}
		}
		blocks = append(blocks, b)
	}
	blocks = append(blocks, nil, []byte("\r\n"), []byte(":\r\n"), []byte("a:\r\n"), []byte("a:b\r"), []byte("a:b\n\r\n"))
	lines := runCheck(t, bin, "fields", writeRecords(t, blocks))
	if len(lines) != len(blocks) {
		t.Fatalf("bridge_check printed %d lines for %d blocks", len(lines), len(blocks))
	}
	var ends, stops, bad int
	for i, b := range blocks {
		want := goFieldsLine(b)
		if lines[i] != want {
			if bad++; bad <= 10 {
				t.Errorf("block %q:\n   C: %s\n  Go: %s", b, lines[i], want)
			}
		}
		if strings.HasSuffix(want, "end") {
			ends++
		} else {
			stops++
		}
	}
	if ends < 200 || stops < 200 {
		t.Errorf("blocks: %d consumed, %d stopped; want both", ends, stops)
	}
}

// --- Responses ---

type respCase struct {
	status     int32
	cap        uint32
	cl         int64
	nullReason bool
	flags      uint8 // the response flags passed to the encoder
	reason     []byte
	fields     []byte
	body       []byte
}

func (c *respCase) record() []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, uint32(c.status))
	b = le.AppendUint32(b, c.cap)
	b = le.AppendUint64(b, uint64(c.cl))
	opts := c.flags << 1
	if c.nullReason {
		opts |= 1
	}
	b = append(b, opts)
	for _, p := range [][]byte{c.reason, c.fields, c.body} {
		b = le.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// testCResponse: hw_bridge_response_encode writes what EncodeResponse
// writes and DecodeResponse reads back the same status, reason, fields,
// content length and body; it returns 0, writing nothing, exactly when the
// message does not fit or could not be accepted by the engine.
func testCResponse(t *testing.T, bin string) {
	rng := rand.New(rand.NewPCG(9, 10))
	var cases []*respCase
	for i := range 600 {
		c := &respCase{status: int32(100 + rng.IntN(900))}
		if rng.IntN(8) == 0 {
			c.status = []int32{99, 100, 999, 1000, 0, -1, -200, 65536 + 200, math.MaxInt32}[rng.IntN(9)]
		}
		switch {
		case i == 0:
			c.reason = bytes.Repeat([]byte{'r'}, wire.MaxReason) // the longest
		case i == 1:
			c.reason = bytes.Repeat([]byte{'r'}, wire.MaxReason+1) // one too long
		case rng.IntN(5) == 0:
			c.nullReason = true
		default:
			c.reason = fill(rng, rng.IntN(30), true)
		}
		if rng.IntN(3) != 0 {
			for range rng.IntN(5) {
				c.fields = fmt.Appendf(c.fields, "X-%d: %s\r\n", rng.IntN(100), fill(rng, rng.IntN(20), true))
			}
		} else {
			c.fields = fill(rng, rng.IntN(40), false) // not checked by the encoder
		}
		c.body = fill(rng, rng.IntN(300), false)
		if rng.IntN(4) == 0 {
			c.body = nil
		}
		switch rng.IntN(10) {
		case 0, 1:
			c.flags = wire.ResponseStream
		case 2:
			c.flags = []uint8{2, 0x40, 0x7F}[rng.IntN(3)] // unknown (7 bits travel)
		}
		switch rng.IntN(8) {
		case 0:
			c.cl = -1
		case 1:
			c.cl = []int64{int64(len(c.body)) + 1, int64(len(c.body)) - 1, -2, math.MinInt64, math.MaxInt64}[rng.IntN(5)]
		default:
			c.cl = int64(len(c.body))
		}
		need := wire.ResponseHeadLen + len(c.reason) + len(c.fields) + len(c.body)
		switch rng.IntN(6) {
		case 0:
			c.cap = uint32(need - 1)
		case 1:
			c.cap = uint32(rng.IntN(need + 1))
		case 2:
			c.cap = 0
		case 3:
			c.cap = uint32(need)
		default:
			c.cap = uint32(need + rng.IntN(100))
		}
		cases = append(cases, c)
	}
	recs := make([][]byte, len(cases))
	for i, c := range cases {
		recs[i] = c.record()
	}
	out := filepath.Join(t.TempDir(), "out")
	runCheck(t, bin, "response", writeRecords(t, recs), out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var encoded, refused, bad int
	for i, c := range cases {
		if len(data) < 4 {
			t.Fatalf("output ends after %d of %d responses", i, len(cases))
		}
		n := int(binary.LittleEndian.Uint32(data))
		msg := data[4 : 4+n]
		data = data[4+n:]
		need := wire.ResponseHeadLen + len(c.reason) + len(c.fields) + len(c.body)
		clOK := c.cl == -1 || c.cl == int64(len(c.body)) || (c.flags == wire.ResponseStream && c.cl > int64(len(c.body)))
		valid := c.status >= 100 && c.status <= 999 && len(c.reason) <= wire.MaxReason &&
			c.flags&^wire.ResponseStream == 0 && clOK && need <= int(c.cap)
		fail := func(format string, args ...any) {
			if bad++; bad <= 10 {
				t.Errorf("response %d (status %d, reason %d bytes, cl %d, body %d, cap %d, need %d): %s", i, c.status,
					len(c.reason), c.cl, len(c.body), c.cap, need, fmt.Sprintf(format, args...))
			}
		}
		if !valid {
			refused++
			if n != 0 {
				fail("C wrote %d bytes; want a refusal", n)
			}
			continue
		}
		encoded++
		if n == 0 {
			fail("C refused it")
			continue
		}
		head := &wire.ResponseHead{Status: int(c.status), Flags: c.flags, Reason: c.reason, Fields: c.fields, ContentLength: c.cl}
		if want := bridgetest.EncResp(head, c.body); !bytes.Equal(msg, want) {
			fail("C wrote %x\nGo writes %x", trim(string(msg), 200), trim(string(want), 200))
		}
		h, body, err := wire.DecodeResponse(msg)
		if err != nil {
			fail("DecodeResponse: %v", err)
			continue
		}
		if h.Status != int(c.status) || h.Flags != c.flags || !bytes.Equal(h.Reason, c.reason) || !bytes.Equal(h.Fields, c.fields) ||
			h.ContentLength != c.cl || !bytes.Equal(body, c.body) {
			fail("decoded %d %q %q cl %d body %d bytes", h.Status, trim(string(h.Reason), 50), h.Fields, h.ContentLength, len(body))
		}
	}
	if len(data) != 0 {
		t.Errorf("%d bytes after the last response", len(data))
	}
	if encoded < 200 || refused < 100 {
		t.Errorf("%d encoded, %d refused: want both", encoded, refused)
	}
	t.Logf("%d responses: %d encoded and decoded alike, %d refused alike", len(cases), encoded, refused)
}
