package projections

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrFormat is returned for an output format the ledger does not write.
var ErrFormat = errors.New("projections: unknown format (want table, csv or json)")

// Formats lists the output formats, the first being the default.
var Formats = []string{"table", "csv", "json"}

// Table is a report ready for output. Cells are string, int, uint64, float64 or time.Time.
type Table struct {
	Title   string
	Columns []string
	Rows    [][]any
	// Key is how many leading columns tell rows apart (for restatements); 0 means 2.
	Key int
}

// Where keeps the rows whose column equals value; an unknown column keeps nothing.
func (t Table) Where(column, value string) Table { return t.WhereIn(column, value) }

// WhereIn keeps the rows whose column equals one of values; an unknown column keeps nothing.
func (t Table) WhereIn(column string, values ...string) Table {
	i := slices.Index(t.Columns, column)
	out := Table{Title: t.Title, Columns: t.Columns, Key: t.Key}
	for _, r := range t.Rows {
		if i >= 0 && slices.Contains(values, fmt.Sprint(r[i])) {
			out.Rows = append(out.Rows, r)
		}
	}
	return out
}

// Write renders the table as "table" (aligned text for people; control characters in cells
// escaped as \n, \t, \u202e, ...), "csv" (RFC 4180, header first; a text cell that starts
// with = + - @ tab or CR, and is not a number, gets a leading ' so that no spreadsheet reads
// a formula) or "json" (an array of objects keyed by column, numbers as numbers, text exact).
func (t Table) Write(w io.Writer, format string) error {
	switch format {
	case "table":
		return t.writeText(w)
	case "csv":
		return t.writeCSV(w)
	case "json":
		return t.writeJSON(w)
	}
	return fmt.Errorf("%w: %q", ErrFormat, format)
}

func (t Table) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if t.Title != "" {
		fmt.Fprintln(w, escapeControls(t.Title))
	}
	line := func(cells []string) {
		for _, c := range cells {
			fmt.Fprint(tw, escapeControls(c), "\t")
		}
		fmt.Fprintln(tw)
	}
	line(t.Columns)
	for _, r := range t.Rows {
		line(formatCells(r))
	}
	return tw.Flush()
}

func (t Table) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	if err := cw.Write(t.Columns); err != nil {
		return err
	}
	for _, r := range t.Rows {
		cells := formatCells(r)
		for i, c := range r {
			if text, ok := c.(string); ok && formulaLike(text) {
				cells[i] = "'" + text
			}
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeJSON keeps the columns' order in each object, which a map would lose.
func (t Table) writeJSON(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("[")
	for i, r := range t.Rows {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		for j, c := range r {
			if j > 0 {
				b.WriteString(", ")
			}
			name, _ := json.Marshal(t.Columns[j])
			value, err := json.Marshal(c)
			if err != nil {
				return err
			}
			b.Write(name)
			b.WriteString(": ")
			b.Write(value)
		}
		b.WriteString("}")
	}
	if len(t.Rows) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := w.Write(b.Bytes())
	return err
}

func formatCells(r []any) []string {
	out := make([]string, len(r))
	for i, c := range r {
		switch c := c.(type) {
		case float64:
			out[i] = strconv.FormatFloat(c, 'f', 4, 64)
		case time.Time:
			if c.IsZero() {
				out[i] = ""
			} else {
				out[i] = c.UTC().Format(time.RFC3339Nano)
			}
		default:
			out[i] = fmt.Sprint(c)
		}
	}
	return out
}

// plainNumber is a number written as text (a restatement's cells are): never a formula.
var plainNumber = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// formulaLike reports whether a text cell would start a spreadsheet formula, as OWASP's CSV
// injection advice lists the leading characters; the CSV writer prefixes those with a single
// quote. Numbers, including text that is a plain number such as "-1", stay as they are.
func formulaLike(s string) bool {
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) && !plainNumber.MatchString(s)
}

// escapeControls writes control characters (newline, tab, bidi controls, ...) as escapes, so
// that a stored value stays on its row and in its column of a text table and reads as stored.
func escapeControls(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case isControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError
}
