package podsecrets

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/signgate/signgate/registry/credprovider"
)

// Settings configure a Source.
type Settings struct {
	Conn Conn
	// ServiceAccount: also read the pod's service account and use the
	// pull secrets it names now (the API server copied those it named at
	// the pod's creation into the pod already). Costs get on
	// serviceaccounts.
	ServiceAccount bool
	// Timeout bounds one lookup (all its GETs), within the decision's own
	// deadline.
	Timeout time.Duration
	// Refresh: how long a service account or secret read is used before
	// it is read again. A pod's spec.imagePullSecrets cannot change, so a
	// pod is read once per UID.
	Refresh time.Duration
	// MaxNames bounds the secret names read for one pod (its own and
	// its service account's): the API server validates no name, and a
	// pod naming thousands would have signgate read them all on every
	// CreateContainer. The rest are skipped with one note.
	MaxNames int
	Now      func() time.Time // time.Now when nil
}

// Source looks pods' pull secrets up and keeps what it read.
type Source struct {
	api *API
	s   Settings

	mu      sync.Mutex
	pods    *cache[podEntry]    // by namespace/name/UID
	sas     *cache[saEntry]     // by namespace/name
	secrets *cache[secretEntry] // by namespace/name
}

type podEntry struct {
	names  []string // spec.imagePullSecrets
	sa     string
	other  string // the API server's pod of that name is another one: why none
	static bool   // the API server's is its mirror
}

type saEntry struct {
	names []string
	at    time.Time
}

type secretEntry struct {
	s    *secret // nil: not usable, note says why
	note string
	at   time.Time
}

// maxKept bounds each cache, and perNamespace one namespace's share of
// it: pods come and go, and NRI says nothing of a pod's removal to a
// plugin that does not ask, so entries leave least recently used first.
const (
	maxKept      = 4096
	perNamespace = 512
)

// staleRefreshes bounds how long a secret read earlier is used while the
// API server fails, in Refresh periods since it was last read.
const staleRefreshes = 3

// defaultMaxNames is config.DefaultPodSecretsMaxNames, for a Settings
// that gives none.
const defaultMaxNames = 32

// New builds a Source.
func New(s Settings) (*Source, error) {
	api, err := NewAPI(s.Conn)
	if err != nil {
		return nil, err
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Timeout <= 0 {
		s.Timeout = time.Second
	}
	if s.Refresh <= 0 {
		s.Refresh = time.Minute
	}
	if s.MaxNames <= 0 {
		s.MaxNames = defaultMaxNames
	}
	return &Source{api: api, s: s,
		pods: newCache[podEntry](maxKept, perNamespace), sas: newCache[saEntry](maxKept, perNamespace), secrets: newCache[secretEntry](maxKept, perNamespace)}, nil
}

// ForPod is pod's Pull: always usable (with no secret when none could be
// read), and an error saying why the pod's secrets could not be looked
// up, for the log. Lookups fail towards the node's own credentials: a
// credential only lets signgate read signatures, it never makes one
// trusted, so reading with fewer can deny (naming the registry's 401 and
// this Pull's note) but never allow what should not be.
func (s *Source) ForPod(ctx context.Context, pod Pod) (*Pull, error) {
	p := &Pull{pod: pod}
	if pod.Static {
		return p, nil // a static pod names no secret
	}
	if pod.UID == "" || pod.Namespace == "" || pod.Name == "" {
		p.note("NRI gave no pod UID, namespace or name")
		return p, fmt.Errorf("pod %s: no UID, namespace or name from the runtime", pod)
	}
	ctx, cancel := context.WithTimeout(ctx, s.s.Timeout)
	defer cancel()
	pe, err := s.pod(ctx, pod)
	if err != nil {
		p.note("its pull secrets could not be read: " + err.Error())
		return p, err
	}
	if pe.other != "" {
		p.note(pe.other)
		return p, nil
	}
	if pe.static {
		return p, nil
	}
	names := pe.names
	if s.s.ServiceAccount && pe.sa != "" {
		sa, err := s.serviceAccount(ctx, pod.Namespace, pe.sa)
		if err != nil {
			p.note("service account " + pe.sa + ": " + err.Error())
		}
		names = append(append([]string(nil), names...), sa...)
	}
	names = distinct(names)
	if len(names) > s.s.MaxNames {
		p.note(fmt.Sprintf("%d more secret names not read (at most %d are)", len(names)-s.s.MaxNames, s.s.MaxNames))
		names = names[:s.s.MaxNames]
	}
	var errs []error
	for _, n := range names {
		se, err := s.secret(ctx, pod.Namespace, n)
		if err != nil {
			errs = append(errs, err)
		}
		if se.s == nil {
			p.note(se.note)
			continue
		}
		p.secrets = append(p.secrets, se.s)
	}
	if len(errs) > 0 {
		return p, fmt.Errorf("pod %s: %w", pod, errs[0])
	}
	return p, nil
}

// distinct is names without repeats, in order.
func distinct(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func (s *Source) pod(ctx context.Context, pod Pod) (podEntry, error) {
	// Keyed by all three: a UID is the runtime's word, and another
	// pod claiming it must not get this pod's names in its namespace.
	key := pod.Namespace + "/" + pod.Name + "/" + pod.UID
	s.mu.Lock()
	pe, ok := s.pods.get(key)
	s.mu.Unlock()
	if ok {
		return pe, nil
	}
	var obj struct {
		Metadata struct {
			UID         string            `json:"uid"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			ImagePullSecrets   []struct{ Name string } `json:"imagePullSecrets"`
			ServiceAccountName string                  `json:"serviceAccountName"`
		} `json:"spec"`
	}
	err := s.api.get(ctx, "/api/v1/namespaces/"+url.PathEscape(pod.Namespace)+"/pods/"+url.PathEscape(pod.Name), &obj)
	switch {
	case NotFound(err):
		// Not kept: the pod may not be visible yet, or was deleted.
		return podEntry{other: fmt.Sprintf("the API server has no pod %s", pod)}, nil
	case err != nil:
		return podEntry{}, err
	}
	switch {
	case obj.Metadata.UID == pod.UID:
		for _, r := range obj.Spec.ImagePullSecrets {
			if r.Name != "" {
				pe.names = append(pe.names, r.Name)
			}
		}
		pe.sa = obj.Spec.ServiceAccountName
		if pe.sa == "" {
			pe.sa = "default"
		}
	case obj.Metadata.Annotations["kubernetes.io/config.mirror"] == pod.UID:
		pe.static = true // a static pod's mirror: it names no secret
	default:
		// Recreated under the same name: the other pod's secrets are
		// not this one's.
		pe.other = fmt.Sprintf("the API server's pod %s is another pod (UID %s, not %s)", pod, obj.Metadata.UID, pod.UID)
	}
	s.mu.Lock()
	s.pods.put(key, pe)
	s.mu.Unlock()
	return pe, nil
}

func (s *Source) serviceAccount(ctx context.Context, ns, name string) ([]string, error) {
	key := ns + "/" + name
	now := s.s.Now()
	s.mu.Lock()
	e, ok := s.sas.get(key)
	s.mu.Unlock()
	if ok && now.Sub(e.at) < s.s.Refresh {
		return e.names, nil
	}
	var obj struct {
		ImagePullSecrets []struct{ Name string } `json:"imagePullSecrets"`
	}
	err := s.api.get(ctx, "/api/v1/namespaces/"+url.PathEscape(ns)+"/serviceaccounts/"+url.PathEscape(name), &obj)
	if err != nil && !NotFound(err) {
		return nil, err
	}
	e = saEntry{at: now}
	for _, r := range obj.ImagePullSecrets {
		if r.Name != "" {
			e.names = append(e.names, r.Name)
		}
	}
	s.mu.Lock()
	s.sas.put(key, e)
	s.mu.Unlock()
	return e.names, nil
}

// secret is namespace ns's secret name, read again once Refresh has
// passed. Only the pod's own namespace is ever asked for: a secret is
// named by its pod, and a pod can name only its namespace's.
func (s *Source) secret(ctx context.Context, ns, name string) (secretEntry, error) {
	key := ns + "/" + name
	now := s.s.Now()
	s.mu.Lock()
	old, ok := s.secrets.get(key)
	s.mu.Unlock()
	if ok && now.Sub(old.at) < s.s.Refresh {
		return old, nil
	}
	var obj struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Namespace       string `json:"namespace"`
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Type string            `json:"type"`
		Data map[string]string `json:"data"`
	}
	err := s.api.get(ctx, "/api/v1/namespaces/"+url.PathEscape(ns)+"/secrets/"+url.PathEscape(name), &obj)
	e := secretEntry{at: now}
	switch {
	case NotFound(err):
		e.note = fmt.Sprintf("secret %s not found in namespace %s", name, ns)
	case err != nil:
		// The API server is unreachable or refuses: what was read
		// before stays in use for a while (a deleted or rotated-away
		// secret must not live on through an outage), then only a
		// note says why none is.
		if ok && old.s != nil && now.Sub(old.at) < staleRefreshes*s.s.Refresh {
			return old, err
		}
		return secretEntry{note: fmt.Sprintf("secret %s: %v", key, err)}, err
	case obj.Kind != "Secret":
		e.note = fmt.Sprintf("secret %s: the API server answered with a %q, not a Secret", key, obj.Kind)
	case obj.Metadata.Namespace != ns:
		e.note = fmt.Sprintf("secret %s: the API server answered with namespace %q's", key, obj.Metadata.Namespace)
	case ok && old.s != nil && old.s.rv == obj.Metadata.ResourceVersion && obj.Metadata.ResourceVersion != "":
		e.s = old.s // unchanged
	default:
		e.s, e.note = parseSecret(key, obj.Metadata.ResourceVersion, obj.Type, obj.Data)
	}
	s.mu.Lock()
	s.secrets.put(key, e)
	s.mu.Unlock()
	return e, nil
}

// Secret types and keys, as the kubelet reads them.
const (
	typeDockerConfigJSON = "kubernetes.io/dockerconfigjson"
	typeDockercfg        = "kubernetes.io/dockercfg"
)

// parseSecret reads a docker-config secret; any other type, or content
// that does not parse, is skipped with a note that names the secret and
// never quotes it.
func parseSecret(ref, rv, typ string, data map[string]string) (*secret, string) {
	var field string
	switch typ {
	case typeDockerConfigJSON:
		field = ".dockerconfigjson"
	case typeDockercfg:
		field = ".dockercfg"
	default:
		return nil, fmt.Sprintf("secret %s is of type %q, not %s or %s", ref, typ, typeDockerConfigJSON, typeDockercfg)
	}
	raw, err := base64.StdEncoding.DecodeString(data[field])
	if err != nil || len(raw) == 0 {
		return nil, fmt.Sprintf("secret %s has no %s", ref, field)
	}
	type entry struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Auth     string `json:"auth"`
	}
	var auths map[string]entry
	if typ == typeDockerConfigJSON {
		var cfg struct {
			Auths map[string]entry `json:"auths"`
		}
		err = json.Unmarshal(raw, &cfg)
		auths = cfg.Auths
	} else {
		err = json.Unmarshal(raw, &auths)
	}
	if err != nil {
		return nil, fmt.Sprintf("secret %s: %s is not a docker config", ref, field)
	}
	creds := map[string]credprovider.Credential{}
	for k, a := range auths {
		c := credprovider.Credential{Username: a.Username, Password: a.Password}
		if a.Auth != "" {
			// As the kubelet decodes it: "user:password", base64.
			b, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Sprintf("secret %s: the auth of %s is not base64", ref, k)
			}
			u, pw, ok := strings.Cut(string(b), ":")
			if !ok {
				return nil, fmt.Sprintf("secret %s: the auth of %s is not user:password", ref, k)
			}
			c.Username, c.Password = u, pw
		}
		creds[k] = c
	}
	return &secret{ref: ref, rv: rv, ring: credprovider.NewKeyring(creds)}, ""
}
