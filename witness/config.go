package witness

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ReadClients reads a witnesses file: one witness a line, its verifier key (as `ledger
// witness` prints it) and its submission URL, separated by white space. Blank lines and
// lines starting with # are skipped. A witness given twice is refused.
func ReadClients(r io.Reader, hc *http.Client) ([]*Client, error) {
	var out []*Client
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("witnesses line %d: want \"<verifier key> <url>\", got %d fields", n, len(fields))
		}
		c, err := NewClient(fields[0], fields[1], hc)
		if err != nil {
			return nil, fmt.Errorf("witnesses line %d: %w", n, err)
		}
		if first, dup := seen[c.Name()]; dup {
			return nil, fmt.Errorf("witnesses line %d: witness %s is on line %d already", n, c.Name(), first)
		}
		seen[c.Name()] = n
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("witnesses: %w", err)
	}
	return out, nil
}
