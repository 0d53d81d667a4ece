// Package kms reads public keys, and the state of each of their versions,
// from key management systems.
//
// signgate only ever reads: it lists a key's versions and fetches public
// keys, never signs. Providers are compiled in and registered by scheme; a
// reference with any other scheme is refused. signgate never uses sigstore's
// kms.Get, which runs an external "sigstore-kms-<scheme>" program for a
// scheme it does not know.
package kms

import (
	"context"
	"crypto"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// State is what the KMS says about one key version.
type State string

const (
	Enabled         State = "enabled"
	Disabled        State = "disabled"
	PendingDeletion State = "pending_deletion" // scheduled for deletion: as good as deleted
	Deleted         State = "deleted"          // gone, or destroyed
)

// Usable reports whether signatures made with a version in this state may be
// trusted. Anything but enabled counts as revoked.
func (s State) Usable() bool { return s == Enabled }

// Version is one version of a key. What a version is depends on the KMS: a
// numbered version in GCP and Vault, a version ID in Azure, and the key
// behind an alias in AWS (which has no versions of asymmetric keys, so
// rotating means pointing the alias at a new key).
type Version struct {
	ID      string
	State   State
	Created time.Time
	// Current marks the version that signs now: the one a key that follows
	// the latest version trusts without a grace period.
	Current bool
	Public  crypto.PublicKey // set for usable versions
	// Problem says why an enabled version cannot be trusted although the
	// KMS answered about it: an algorithm signgate does not support, a
	// public key the KMS would not serve or that does not parse. Such a
	// version is judged alone; the rest of the listing still applies.
	Problem string
}

// Trustable reports whether the version may be trusted: enabled, and taken
// without a problem.
func (v Version) Trustable() bool { return v.State.Usable() && v.Problem == "" }

// Ref is a key reference from the config: a URI such as
// "awskms:///alias/signing" or "gcpkms://projects/p/.../cryptoKeys/k".
type Ref struct {
	URI    string
	Scheme string // "awskms", "gcpkms", "azurekms", "hashivault"
	// Pin is the one version to trust; "" follows the current version.
	Pin string
}

// Provider reads one KMS.
type Provider interface {
	// Versions lists ref's versions and their states. known names versions
	// trusted before, which the provider must report on even if they no
	// longer appear in a listing (AWS keys an alias pointed at before); one
	// that no longer exists is reported as Deleted. An error means the KMS
	// could not be asked, not that the key is revoked. A version the KMS
	// answered about but signgate cannot take is no error: it is listed with
	// its Problem, so what the KMS says of the other versions still applies.
	Versions(ctx context.Context, ref Ref, known []string) ([]Version, error)
}

// Settings are a provider's connection settings from the config. Credentials
// come from where each SDK normally finds them (environment, instance
// metadata, files); none is ever logged.
type Settings struct {
	Endpoint    string // API endpoint override, e.g. an emulator or a private endpoint
	Region      string // AWS
	TokenFile   string // Vault: a file holding the token (else VAULT_TOKEN, ~/.vault-token)
	TransitPath string // Vault: the transit engine's mount, default "transit"
	CAFile      string // PEM roots for the endpoint's TLS
	Insecure    bool   // plaintext gRPC to Endpoint (GCP emulators only)
}

// Factory builds a provider from its settings.
type Factory struct {
	// Section is the provider's settings section under [kms] ("aws",
	// "vault", ...): every scheme a provider answers to reads the same one.
	Section string
	// Check validates a reference's syntax (sigstore's grammar for the
	// scheme) and returns it parsed, without network access.
	Check func(uri, pin string) (Ref, error)
	New   func(ctx context.Context, s Settings) (Provider, error)
}

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a scheme available. Providers call it from init, in files
// that build tags can leave out for a lean build.
func Register(scheme string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	factories[scheme] = f
}

// Schemes lists the schemes compiled in: the allow-list.
func Schemes() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(factories))
	for s := range factories {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the factory for scheme.
func Lookup(scheme string) (Factory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := factories[scheme]
	return f, ok
}

// Parse checks a reference against the allow-list and its scheme's grammar.
func Parse(uri, pin string) (Ref, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || !strings.Contains(uri, "://") {
		return Ref{}, fmt.Errorf("%q is not a KMS key reference (want e.g. awskms:///alias/name)", uri)
	}
	f, ok := Lookup(u.Scheme)
	if !ok {
		supported := strings.Join(Schemes(), ", ")
		if supported == "" {
			supported = "none: built with the no_*kms tags"
		}
		return Ref{}, fmt.Errorf("KMS scheme %q is not supported by this build (supported: %s); signgate never runs external KMS plugins", u.Scheme, supported)
	}
	ref, err := f.Check(uri, pin)
	if err != nil {
		return Ref{}, fmt.Errorf("%s: %w", uri, err)
	}
	ref.URI, ref.Scheme = uri, u.Scheme
	return ref, nil
}

// Current returns the version a following reference trusts without grace:
// the one the provider marks current, if it is trustable; when the provider
// marks none, the newest enabled one, if it is trustable. A current version
// that is disabled or cannot be taken is never replaced by an older one
// here: that would bring back a rotated-out key. The version is returned
// even when not trustable, so callers can say why.
func Current(vs []Version) (Version, bool) {
	var best Version
	found := false
	for _, v := range vs {
		if v.Current {
			return v, v.Trustable()
		}
		if v.State.Usable() && (!found || v.Created.After(best.Created)) {
			best, found = v, true
		}
	}
	return best, found && best.Trustable()
}

// Helpers for providers.

// MarkMissing appends, as deleted, each known version a listing lacks: a
// version the KMS no longer lists is gone.
func MarkMissing(listed []Version, known []string) []Version {
	seen := make(map[string]bool, len(listed))
	for _, v := range listed {
		seen[v.ID] = true
	}
	for _, k := range known {
		if !seen[k] {
			listed = append(listed, Version{ID: k, State: Deleted})
		}
	}
	return listed
}

// SortNumbered orders versions whose IDs are numbers (GCP's, Vault's).
func SortNumbered(vs []Version) {
	sort.Slice(vs, func(i, j int) bool {
		a, _ := strconv.Atoi(vs[i].ID)
		b, _ := strconv.Atoi(vs[j].ID)
		return a < b
	})
}

// NumberedPin checks a pin for a KMS whose versions are numbered, and merges
// it with a version the reference itself names ("" if none).
func NumberedPin(kmsName, inRef, pin string) (string, error) {
	p, err := MergePin(inRef, pin)
	if err != nil || p == "" {
		return p, err
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 {
		return "", fmt.Errorf("version %q: %s versions are positive integers", p, kmsName)
	}
	return p, nil
}

// MergePin merges the version a reference names with the config's version
// setting: either may pin, but they must not disagree.
func MergePin(inRef, pin string) (string, error) {
	switch {
	case inRef != "" && pin != "" && inRef != pin:
		return "", fmt.Errorf("the reference pins version %s and version says %s", inRef, pin)
	case inRef != "":
		return inRef, nil
	}
	return pin, nil
}

// Lazy builds a provider on first use, and again after a failed build, so a
// credential problem at start is a sync error (keys fall back to their
// last-known-good versions) rather than a daemon that cannot start and so
// blocks every container on the node.
func Lazy(scheme string, f Factory, s Settings) Provider {
	return &lazy{scheme: scheme, f: f, s: s}
}

type lazy struct {
	scheme string
	f      Factory
	s      Settings
	mu     sync.Mutex
	p      Provider
}

func (l *lazy) provider(ctx context.Context) (Provider, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p == nil {
		p, err := l.f.New(ctx, l.s)
		if err != nil {
			return nil, fmt.Errorf("%s provider: %w", l.scheme, err)
		}
		l.p = p
	}
	return l.p, nil
}

// Versions builds the provider if need be, then asks it.
func (l *lazy) Versions(ctx context.Context, ref Ref, known []string) ([]Version, error) {
	p, err := l.provider(ctx)
	if err != nil {
		return nil, err
	}
	return p.Versions(ctx, ref, known)
}

// Close closes the provider, if it was built and holds connections.
func (l *lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.p.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
