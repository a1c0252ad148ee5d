package luaapi

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's Lua API reference from Specs")

// TestReadmeReference keeps the README's Lua API reference identical to the
// one made from Specs, so the two cannot drift. Run with -update-readme to
// rewrite it.
func TestReadmeReference(t *testing.T) {
	const path = "../README.md"
	const begin, end = "<!-- api:begin -->\n", "<!-- api:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", begin, end)
	}
	want := Reference()
	got := readme[i+len(begin) : j]
	if got == want {
		return
	}
	if *updateReadme {
		if err := os.WriteFile(path, []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's Lua API reference differs from Specs; run go test ./luaapi -run TestReadmeReference -update-readme\n--- got\n%s\n--- want\n%s", got, want)
}
