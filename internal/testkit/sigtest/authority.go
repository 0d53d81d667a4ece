package sigtest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/signgate/signgate/internal/testkit/sigtest/authority"
)

// AuthorityPlugin is the name the test signing authority's signatures give
// their verification plugin.
const AuthorityPlugin = authority.Plugin

// SignNotationAuthority signs img as a managed signing service does: the
// notary.x509.signingAuthority scheme, naming plugin as the verification
// plugin and profileVersion as the signing profile version, both critical.
// notation-go's own signer always writes notary.x509, hence SignRequest.
func (p *PKI) SignNotationAuthority(ctx context.Context, repo *remote.Repository, img name.Digest, envelope, plugin, profileVersion string) error {
	ls, err := signature.NewLocalSigner([]*x509.Certificate{p.Leaf, p.Root}, p.leafKey)
	if err != nil {
		return err
	}
	s := &signerAt{signer: ls, at: time.Now().Truncate(time.Second), scheme: signature.SigningSchemeX509SigningAuthority, attrs: []signature.Attribute{
		{Key: "io.cncf.notary.verificationPlugin", Critical: true, Value: plugin},
		{Key: "io.cncf.notary.verificationPluginMinVersion", Critical: true, Value: "1.0.0"},
		{Key: authority.ProfileAttr, Critical: true, Value: profileVersion},
	}}
	opts := notation.SignOptions{SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: envelope}, ArtifactReference: img.String()}
	_, err = notation.Sign(ctx, s, notationregistry.NewRepository(repo), opts)
	return err
}

// AuthorityService is what the test plugin reads as the managed service's
// answers (see sigtest/signerplugin).
type AuthorityService struct {
	Revoked []string `json:"revoked,omitempty"`
	Mode    string   `json:"mode,omitempty"` // "", "unreachable", "hang", "crash", "nonsense", "partial", "env"
	Ran     string   `json:"ran,omitempty"`  // a file each run appends its command to
}

// Write makes s the answers of the plugin installed at path.
func (s AuthorityService) Write(path string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(path+".json", b, 0o644)
}

// BuildAuthorityPlugin builds the test plugin at dir/notation-<name>, the
// file name notation gives plugins (the plugin calls itself by it), and
// returns the path. Go's build cache makes every build after the first
// a link.
func BuildAuthorityPlugin(dir, pluginName string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "notation-"+pluginName)
	cmd := exec.Command("go", "build", "-o", path, "github.com/signgate/signgate/internal/testkit/sigtest/signerplugin")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the test plugin: %v\n%s", err, out)
	}
	return path, os.Chmod(path, 0o755)
}
