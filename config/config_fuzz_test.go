package config

import (
	"os"
	"testing"
)

// FuzzParse: no input makes the loader panic, and whatever it accepts has a
// policy to decide with.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../packaging/config.example.toml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err == nil && len(c.Policies) == 0 {
			t.Fatal("accepted a config without policies")
		}
	})
}
