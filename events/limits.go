package events

import (
	"cmp"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Limits is the one source of what each identifier and free-text field of a command may
// hold: validation applies it, and server/openapi.json (maxLength, pattern) and the README's
// command reference are generated from it (tests fail when either is stale). Field is the
// JSON path with [] for any index ("targets[].account"); a name means the same field in
// every command that has it. Idempotency-Key is the HTTP header.
var Limits = []Limit{
	{Field: "command", Max: 32, Syntax: SyntaxID}, // and one of the command names
	{Field: "command_id", Max: 128, Syntax: SyntaxID},
	{Field: "Idempotency-Key", Max: 128, Syntax: SyntaxID},
	{Field: "request_id", Max: 36, Syntax: SyntaxUUID},
	{Field: "correlation_id", Max: 128, Syntax: SyntaxID},
	{Field: "causation_id", Max: 128, Syntax: SyntaxID},
	{Field: "authority.name", Max: 200, Syntax: SyntaxLine},
	{Field: "reference", Max: 100, Syntax: SyntaxLine},
	{Field: "targets[].account", Max: 256, Syntax: SyntaxAccount},
	{Field: "targets[].account_ref", Max: 37, Syntax: SyntaxAccountRef},
	{Field: "targets[].grounds", Max: 2000, Syntax: SyntaxText},
	{Field: "accounts[].account", Max: 256, Syntax: SyntaxAccount},
	{Field: "accounts[].account_ref", Max: 37, Syntax: SyntaxAccountRef},
	{Field: "dsa.other_description", Max: 200, Syntax: SyntaxLine}, // printed in the DSA template's CSV cell
	{Field: "verifier", Max: 200, Syntax: SyntaxLine},
	{Field: "reason", Max: 2000, Syntax: SyntaxText},
	{Field: "grounds", Max: 2000, Syntax: SyntaxText},
	{Field: "note", Max: 2000, Syntax: SyntaxText},
	{Field: "details", Max: 2000, Syntax: SyntaxText},
	{Field: "package_sha256", Max: 64, Syntax: SyntaxSHA256},
	{Field: "entry", Max: 36, Syntax: SyntaxUUID},
	{Field: "field", Max: 64, Syntax: SyntaxID},
	// The authority registry and fraud.
	{Field: "authority_id", Max: 36, Syntax: SyntaxUUID},
	{Field: "authority", Max: 36, Syntax: SyntaxUUID},
	{Field: "name", Max: 200, Syntax: SyntaxLine},
	{Field: "jurisdiction", Max: 200, Syntax: SyntaxLine},
	{Field: "channel", Max: 64, Syntax: SyntaxID},
	{Field: "address", Max: 256, Syntax: SyntaxLine},
	{Field: "sourced_via", Max: 500, Syntax: SyntaxLine},
	{Field: "auth", Max: 500, Syntax: SyntaxLine},
	{Field: "supervisor", Max: 200, Syntax: SyntaxLine},
}

// Limit bounds one field: at most Max characters (Unicode code points, as JSON Schema's
// maxLength counts them) of its Syntax.
type Limit struct {
	Field  string
	Max    int
	Syntax *Syntax
}

// Syntax is what a value may look like: a character set, or a fixed format.
type Syntax struct {
	Name  string // as the README calls it
	Words string // what it holds, for people
	// A character set: the allowed characters (allow) or the refused ones.
	allow bool
	spans []span
	// A fixed format instead, checked with a regular expression both RE2 and ECMA-262 read.
	format string
	re     *regexp.Regexp
}

type span struct{ lo, hi rune }

// controls are refused in every kind of text: C0 (a free text's newline excepted), DEL, C1,
// the Unicode line and paragraph separators, and the bidirectional controls (Bidi_Control:
// marks, embeddings, overrides, isolates), which make a printed value read differently from
// what is stored ("Trojan Source", CVE-2021-42574).
var controls = []span{{0x00, 0x09}, {0x0B, 0x1F}, {0x7F, 0x9F}, {0x061C, 0x061C}, {0x200E, 0x200F}, {0x2028, 0x2029}, {0x202A, 0x202E}, {0x2066, 0x2069}}

// newline is the one control character free text may hold.
var newline = []span{{0x0A, 0x0A}}

// whitespace is what unicode.IsSpace calls space, outside the controls above.
var whitespace = []span{{0x20, 0x20}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x2000, 0x200A}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}}

var (
	// SyntaxID is a caller's identifier: it travels in NATS headers and subjects' neighbours.
	SyntaxID = &Syntax{Name: "identifier", Words: "ASCII letters, digits and . _ : -", allow: true,
		spans: []span{{'-', '-'}, {'.', '.'}, {'0', '9'}, {':', ':'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}}
	SyntaxUUID = &Syntax{Name: "UUID", Words: "a UUID, 8-4-4-4-12 hex digits",
		format: `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`}
	SyntaxAccountRef = &Syntax{Name: "account reference", Words: "acct_ and 32 lowercase hex digits", format: `^acct_[0-9a-f]{32}$`}
	SyntaxSHA256     = &Syntax{Name: "SHA-256", Words: "64 lowercase hex digits", format: `^[0-9a-f]{64}$`}
	// SyntaxAccount is a platform's raw account id (a username, a phone number, an e-mail
	// address): any printable character but whitespace, so that "+33 6 12" and "+33612" are
	// not two pseudonyms of one account.
	SyntaxAccount = &Syntax{Name: "account id", Words: "printable characters, no whitespace", spans: sorted(controls, newline, whitespace)}
	// SyntaxLine is a name or a reference number: one line of printable text.
	SyntaxLine = &Syntax{Name: "line", Words: "one line of printable text", spans: sorted(controls, newline)}
	// SyntaxText is free text: printable, with newlines; a tab or a carriage return is refused
	// (they break tables and overwrite terminal lines), so line breaks are \n alone.
	SyntaxText = &Syntax{Name: "text", Words: "printable text; line breaks as \\n (no tab, no CR)", spans: controls}
)

// sorted joins sets of spans in order, adjacent ones merged, so that a pattern reads from
// U+0000 up.
func sorted(sets ...[]span) []span {
	var out []span
	for _, s := range slices.SortedFunc(slices.Values(slices.Concat(sets...)), func(a, b span) int { return cmp.Compare(a.lo, b.lo) }) {
		if n := len(out); n > 0 && s.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, s.hi)
			continue
		}
		out = append(out, s)
	}
	return out
}

func init() {
	for _, k := range []*Syntax{SyntaxUUID, SyntaxAccountRef, SyntaxSHA256} {
		k.re = regexp.MustCompile(k.format)
	}
}

// LimitOf returns the limit of a field by its path, with or without indexes
// ("targets[0].account" and "targets[].account" alike).
func LimitOf(path string) (Limit, bool) {
	l, ok := limitsByField()[anyIndex(path)]
	return l, ok
}

var limitsByField = sync.OnceValue(func() map[string]Limit {
	m := make(map[string]Limit, len(Limits))
	for _, l := range Limits {
		m[l.Field] = l
	}
	return m
})

// anyIndex writes every index of a path as [].
func anyIndex(path string) string {
	if !strings.Contains(path, "[") {
		return path
	}
	var b strings.Builder
	for len(path) > 0 {
		i := strings.IndexByte(path, '[')
		j := strings.IndexByte(path[i+1:], ']')
		if i < 0 || j < 0 {
			b.WriteString(path)
			break
		}
		b.WriteString(path[:i] + "[]")
		path = path[i+1+j+1:]
	}
	return b.String()
}

// CheckField checks one value against the limit of the field at path (the FieldError names
// path). An empty value passes: whether a field is required is its command's rule.
func CheckField(path, value string) error {
	l, ok := LimitOf(path)
	if !ok {
		return fmt.Errorf("events: no limit for field %s in events.Limits", path)
	}
	return l.Check(path, value)
}

// Check checks v; field names it in the error.
func (l Limit) Check(field, v string) error {
	if v == "" {
		return nil
	}
	if !utf8.ValidString(v) {
		return Invalid(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > l.Max {
		return Invalid(field, "must be at most %d characters, not %d", l.Max, n)
	}
	if l.Syntax.re != nil {
		if !l.Syntax.re.MatchString(v) {
			return Invalid(field, "must be %s", l.Syntax.Words)
		}
		return nil
	}
	pos := 0
	for _, r := range v {
		pos++
		if l.Syntax.admits(r) {
			continue
		}
		at := fmt.Sprintf("%U at character %d", r, pos)
		switch {
		case l.Syntax.allow:
			return Invalid(field, "may hold only %s (%s)", l.Syntax.Words, at)
		case inSpans(controls, r) || inSpans(newline, r):
			return Invalid(field, "must hold no control characters (%s)", at)
		}
		return Invalid(field, "must hold no whitespace (%s)", at)
	}
	return nil
}

func (k *Syntax) admits(r rune) bool { return inSpans(k.spans, r) == k.allow }

func inSpans(spans []span, r rune) bool {
	for _, s := range spans {
		if s.lo <= r && r <= s.hi {
			return true
		}
	}
	return false
}

// Pattern is the kind as an ECMA-262 regular expression, as JSON Schema's pattern reads it
// (RE2 reads it too once each \uXXXX is written \x{XXXX}).
func (k *Syntax) Pattern() string {
	if k.re != nil {
		return k.format
	}
	var b strings.Builder
	b.WriteString("^[")
	if !k.allow {
		b.WriteByte('^')
	}
	for _, s := range k.spans {
		b.WriteString(patternRune(s.lo))
		if s.hi != s.lo {
			b.WriteString("-" + patternRune(s.hi))
		}
	}
	b.WriteString("]*$")
	return b.String()
}

func patternRune(r rune) string {
	switch {
	case strings.ContainsRune(`\]^-`, r):
		return `\` + string(r)
	case r > 0x20 && r < 0x7F:
		return string(r)
	}
	return fmt.Sprintf(`\u%04X`, r)
}

// CheckLimits checks every string field of v (a command: a pointer to a struct with JSON
// tags) that Limits bounds. A plain string field that Limits does not know is a programming
// error, reported as such; named string types (Country, Instrument, ...) are closed sets
// that check themselves.
func CheckLimits(v any) error {
	byField := limitsByField()
	return walkStrings(reflect.ValueOf(v), "", "", func(path, key string, s reflect.Value) error {
		l, ok := byField[key]
		switch {
		case ok:
			return l.Check(path, s.String())
		case s.Type() == reflect.TypeFor[string]():
			return fmt.Errorf("events: no limit for field %s in events.Limits", path)
		}
		return nil
	})
}

// StringFields lists the JSON paths ("targets[].account") of every string field a value of
// type t can hold, in the order of its JSON, with their Go types.
func StringFields(t reflect.Type) (paths []string, types []reflect.Type) {
	walkStrings(prototype(t), "", "", func(_, key string, s reflect.Value) error {
		paths = append(paths, key)
		types = append(types, s.Type())
		return nil
	})
	return paths, types
}

// prototype is a value of t with every pointer set and one element in every slice, so that
// a walk sees every field.
func prototype(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.Pointer:
		v.Set(prototype(t.Elem()).Addr())
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 {
			v.Set(reflect.Append(v, prototype(t.Elem())))
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				v.Field(i).Set(prototype(t.Field(i).Type))
			}
		}
	}
	return v
}

// walkStrings calls visit for every string reached through exported, JSON-named fields,
// slices and pointers, with its JSON path and the same path with [] for every index (key).
func walkStrings(v reflect.Value, path, key string, visit func(path, key string, s reflect.Value) error) error {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return walkStrings(v.Elem(), path, key, visit)
	case reflect.String:
		return visit(path, key, v)
	case reflect.Slice:
		if k := v.Type().Elem().Kind(); k != reflect.String && k != reflect.Struct && k != reflect.Pointer {
			return nil // raw JSON, numbers
		}
		for i := range v.Len() {
			if err := walkStrings(v.Index(i), path+"["+strconv.Itoa(i)+"]", key+"[]", visit); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			p, k := path, key
			switch {
			case f.Anonymous && name == "":
				// embedded: its fields are the outer object's
			case name == "":
				p, k = join(path, f.Name), join(key, f.Name)
			default:
				p, k = join(path, name), join(key, name)
			}
			if err := walkStrings(v.Field(i), p, k, visit); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
