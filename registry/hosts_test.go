package registry

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestHostsFileTopLevelFieldsDecode(t *testing.T) {
	var hf hostsFile
	if _, err := toml.Decode("server = \"https://r\"\nca = \"/x.pem\"\nskip_verify = true\n[host.\"https://m\"]\n  capabilities = [\"pull\"]\n", &hf); err != nil {
		t.Fatal(err)
	}
	if hf.Server != "https://r" || hf.CA != "/x.pem" || !hf.SkipVerify || hf.Host["https://m"].Capabilities[0] != "pull" {
		t.Fatalf("decoded %+v", hf)
	}
}
