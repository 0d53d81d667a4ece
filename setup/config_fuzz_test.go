package setup_test

import (
	"os"
	"strings"
	"testing"

	"github.com/signgate/signgate/setup"
)

// FuzzParse: any bytes either load or fail with an error naming the file;
// never a panic.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../packaging/config.example.toml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\nmode = \"allow\"\n"))
	f.Add([]byte("[keys.k]\nkms = \"hashivault://k\"\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\n[policy.cosign]\nkeys = [\"k\"]\nrequire = 2\n"))
	f.Add([]byte("[certs.r]\npem = \"x\"\n[[policy]]\nname = \"n\"\nscopes = [\"*/a\"]\n[policy.notation]\ncerts = [\"r\"]\nlevel = \"audit\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := setup.Parse("fuzz.toml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.toml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if len(c.Policies) == 0 {
			t.Fatal("a config without policies loaded")
		}
		_ = c.Warnings()
	})
}
