package credprovider

// Keyring is the kubelet's docker keyring over one auth map: a pod's pull
// secrets match images exactly as a provider's answer does
// (registry/podsecrets uses it).
type Keyring struct{ k *keyring }

// NewKeyring indexes auth, keyed as a docker config.json's "auths" are.
func NewKeyring(auth map[string]Credential) *Keyring { return &Keyring{k: newKeyring(auth)} }

// Lookup is the most specific credential for image, the repository as the
// kubelet names it (e.g. registry.example:5000/team/app).
func (k *Keyring) Lookup(image string) (Credential, bool) { return k.k.lookup(image) }
