package witness_test

import (
	"strings"
	"testing"

	"github.com/complianceledger/ledger/witness"
)

func TestReadClientsRefusesABadWitnessesFile(t *testing.T) {
	_, vkey, _, err := witness.LoadOrCreateKey(t.TempDir(), "w.test/witness")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, want string
	}{
		{"one field", vkey + "\n", "line 1: want \"<verifier key> <url>\""},
		{"not a key", "# witnesses\n\nnobody https://w.test\n", "line 3: proof: malformed: witness key"},
		{"not a URL", vkey + " w.test:8090\n", "line 1: witness w.test/witness: url \"w.test:8090\": want http:// or https://"},
		{"twice", vkey + " https://a.test\n" + vkey + " https://b.test\n", "line 2: witness w.test/witness+"},
	}
	for _, tc := range tests {
		if _, err := witness.ReadClients(strings.NewReader(tc.file), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	cs, err := witness.ReadClients(strings.NewReader("# key url\n"+vkey+"  https://w.test/ \n"), nil)
	if err != nil || len(cs) != 1 || !strings.HasPrefix(cs[0].Name(), "w.test/witness+") {
		t.Fatalf("a good file: %v %v", cs, err)
	}
}
