package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/complianceledger/ledger/server"
	"github.com/complianceledger/ledger/server/auth"
)

// answer is the API's reply to an in-process request.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// ok reports a 2xx answer.
func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// refusal is the API's error body: {"error":{"code","field","rule","message"}}.
type refusal struct {
	Status  int
	Code    string `json:"code"`
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func (r *refusal) Error() string {
	if r.Field != "" {
		return r.Field + ": " + r.Rule
	}
	return r.Rule
}

// err returns the answer's refusal, nil for a 2xx answer.
func (a answer) err() *refusal {
	if a.ok() {
		return nil
	}
	var body struct {
		Error refusal `json:"error"`
	}
	if json.Unmarshal(a.body, &body) != nil || body.Error.Code == "" {
		body.Error = refusal{Code: "internal", Rule: fmt.Sprintf("the API answered %d", a.status)}
	}
	body.Error.Status = a.status
	return &body.Error
}

// recorder keeps the API's answer in memory.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// ask sends one request to the API in this process as caller, so that the console shows and
// records exactly what the API would for that caller's token, refusals included.
func (c *Console) ask(ctx context.Context, caller auth.Token, method, path string, q url.Values, body []byte, header ...string) answer {
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader = http.NoBody // as a server's request has
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(server.AsCaller(ctx, caller), method, target, rd)
	if err != nil {
		return answer{status: http.StatusBadRequest, body: errorBody("invalid_field", "the request could not be built: "+err.Error())}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := &recorder{header: http.Header{}}
	c.cfg.API.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return answer{status: rec.status, header: rec.header, body: rec.body.Bytes()}
}

func errorBody(code, rule string) []byte {
	b, _ := json.Marshal(map[string]refusal{"error": {Code: code, Rule: rule}})
	return b
}

// table is a report as the API writes it in JSON: its columns in order and each row's
// cells as the JSON gave them (numbers keep their exact text).
type table struct {
	ID      string // the page's id of the table
	Columns []string
	Rows    [][]string
	AsOf    string // the Ledger-As-Of-Sequence header
}

// errNotATable: the API's JSON is not an array of flat objects.
var errNotATable = errors.New("console: the API's answer is not a table")

// decodeTable reads the API's JSON table, keeping the columns' order, which a map would lose.
func decodeTable(a answer) (table, error) {
	t := table{AsOf: a.header.Get("Ledger-As-Of-Sequence")}
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return t, errNotATable
	}
	for dec.More() {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return t, errNotATable
		}
		var row []string
		for i := 0; dec.More(); i++ {
			key, err := dec.Token()
			if err != nil {
				return t, fmt.Errorf("%w: %v", errNotATable, err)
			}
			var v any
			if err := dec.Decode(&v); err != nil {
				return t, fmt.Errorf("%w: %v", errNotATable, err)
			}
			if len(t.Rows) == 0 {
				t.Columns = append(t.Columns, key.(string))
			} else if i >= len(t.Columns) || t.Columns[i] != key {
				return t, fmt.Errorf("%w: row %d has column %v at %d", errNotATable, len(t.Rows), key, i)
			}
			row = append(row, cell(v))
		}
		if _, err := dec.Token(); err != nil { // }
			return t, errNotATable
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// zeroTime is how the API's JSON writes "no time" (no deadline yet, say); the CSV leaves it
// blank, and so does the page.
const zeroTime = "0001-01-01T00:00:00Z"

// cell is a JSON value as the page shows it: numbers and text exactly as the API wrote
// them, booleans as yes/no, null and the zero time as blank.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case json.Number:
		return v.String()
	case string:
		if v == zeroTime {
			return ""
		}
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// column returns the index of a column, -1 if the table has none of that name.
func (t table) column(name string) int {
	for i, c := range t.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// get returns a row's cell of the named column, "" if there is none.
func (t table) get(row []string, name string) string {
	if i := t.column(name); i >= 0 {
		return row[i]
	}
	return ""
}
