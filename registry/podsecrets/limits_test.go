package podsecrets

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A pod may name any number of imagePullSecrets (the API server validates
// none of the names): signgate reads at most MaxNames of them, says so in
// one note, keeps the denial reason short, and the not-found entries one
// namespace's names leave cannot push another namespace's secret out of
// the cache.
func TestManySecretNamesAreBounded(t *testing.T) {
	f := newFakeAPI(t)
	f.secret("victim", "regcred", "1", host, "robot", "pw")
	f.pod("victim", "v", "uid-v", "regcred")
	var names []string
	for i := 0; i < 20000; i++ {
		names = append(names, fmt.Sprintf("s%05d", i))
	}
	f.pod("attacker", "a", "uid-a", names...)
	s, _ := f.source(t, false)
	s.s.Timeout = 500 * time.Millisecond
	if _, err := s.ForPod(context.Background(), Pod{Namespace: "victim", Name: "v", UID: "uid-v"}); err != nil {
		t.Fatal(err)
	}
	before := len(f.asked())
	pull, _ := s.ForPod(context.Background(), Pod{Namespace: "attacker", Name: "a", UID: "uid-a"})
	gets := len(f.asked()) - before
	none := pull.None(repo(t, host+"/apps/x"))
	if want := 1 + defaultMaxNames; gets > want {
		t.Errorf("one pod's lookup made %d GETs, want at most %d", gets, want)
	}
	if len(none) > 4<<10 || len(pull.notes) > maxNotes {
		t.Errorf("denial reason of %d bytes, %d notes", len(none), len(pull.notes))
	}
	if !strings.Contains(none, fmt.Sprintf("%d more secret names not read", 20000-defaultMaxNames)) {
		t.Errorf("reason does not say how many names were not read: %s", none)
	}
	// Other pods of the attacker's namespace, each naming other names.
	for p := 0; p < 300; p++ {
		var more []string
		for i := 0; i < defaultMaxNames; i++ {
			more = append(more, fmt.Sprintf("p%03d-%02d", p, i))
		}
		uid := fmt.Sprintf("uid-a%03d", p)
		f.pod("attacker", "a"+uid, uid, more...)
		s.ForPod(context.Background(), Pod{Namespace: "attacker", Name: "a" + uid, UID: uid})
	}
	s.mu.Lock()
	_, kept := s.secrets.get("victim/regcred")
	n := s.secrets.len()
	s.mu.Unlock()
	if !kept {
		t.Errorf("another namespace's lookups evicted victim/regcred from the cache (cache holds %d)", n)
	}
	if n > maxKept {
		t.Errorf("cache holds %d, more than %d", n, maxKept)
	}
}

// The cache drops the least recently used entry when full, not all.
func TestCacheDropsLeastRecentlyUsed(t *testing.T) {
	c := newCache[int](3, 2)
	c.put("a/1", 1)
	c.put("b/1", 2)
	c.put("c/1", 3)
	c.get("a/1")
	c.put("d/1", 4) // full: b/1 is the least recently used
	if _, ok := c.get("b/1"); ok {
		t.Errorf("b/1 kept")
	}
	for _, k := range []string{"a/1", "c/1", "d/1"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s dropped", k)
		}
	}
	c = newCache[int](10, 2)
	c.put("a/1", 1)
	c.put("d/1", 2)
	c.put("d/2", 3)
	c.get("d/1")
	c.put("d/3", 4) // d at its share: drops d's least recently used, d/2
	if _, ok := c.get("d/2"); ok {
		t.Errorf("d/2 kept past namespace d's share")
	}
	for _, k := range []string{"a/1", "d/1", "d/3"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s dropped", k)
		}
	}
}

// While the API server fails, a secret read earlier is used for three
// refresh periods since it was read, then no longer: a secret deleted or
// rotated away during an outage does not live on without bound.
func TestStaleSecretUseIsBounded(t *testing.T) {
	f := newFakeAPI(t)
	f.pod("team", "app", "uid-1", "regcred")
	f.secret("team", "regcred", "7", host, "robot", "pw")
	s, c := f.source(t, false)
	pod := Pod{Namespace: "team", Name: "app", UID: "uid-1"}
	r := repo(t, host+"/apps/x")
	has := func() (bool, *Pull) {
		t.Helper()
		pull, _ := s.ForPod(context.Background(), pod)
		_, _, ok := pull.Credential(r)
		return ok, pull
	}
	if ok, _ := has(); !ok {
		t.Fatal("no credential")
	}
	f.setRaw("/api/v1/namespaces/team/secrets/regcred", func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	c.t = c.t.Add(2*time.Minute + 59*time.Second)
	if ok, _ := has(); !ok {
		t.Error("the secret is not used through a short outage")
	}
	c.t = c.t.Add(2 * time.Second)
	ok, pull := has()
	if ok {
		t.Error("the secret is still used 3 refresh periods into the outage")
	}
	if none := pull.None(r); !strings.Contains(none, "secret team/regcred") || !strings.Contains(none, "503") {
		t.Errorf("the note does not say why: %s", none)
	}
}

// A pod is looked up by namespace, name and UID: another pod claiming a
// cached pod's UID gets nothing of its names (here: the same secret name
// in its own namespace).
func TestPodCacheIsKeyedByNamespaceNameAndUID(t *testing.T) {
	f := newFakeAPI(t)
	f.pod("team", "app", "uid-1", "regcred")
	f.secret("team", "regcred", "1", host, "robot", "pw")
	f.secret("other", "regcred", "1", host, "thief", "pw")
	s, _ := f.source(t, false)
	r := repo(t, host+"/apps/x")
	pull, _ := s.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-1"})
	if _, _, ok := pull.Credential(r); !ok {
		t.Fatal("no credential")
	}
	pull, _ = s.ForPod(context.Background(), Pod{Namespace: "other", Name: "evil", UID: "uid-1"})
	if _, src, ok := pull.Credential(r); ok {
		t.Errorf("a pod claiming another's UID got %s", src)
	}
}

// An answer that is not a Secret is not used as one.
func TestAnswerMustBeASecret(t *testing.T) {
	f := newFakeAPI(t)
	f.pod("team", "app", "uid-1", "regcred")
	cfg := fmt.Sprintf(`{"auths":{%q:{"username":"robot","password":"pw"}}}`, host)
	f.set("/api/v1/namespaces/team/secrets/regcred", map[string]any{
		"kind": "ConfigMap", "metadata": map[string]any{"namespace": "team", "resourceVersion": "1"},
		"type": "kubernetes.io/dockerconfigjson", "data": map[string]string{".dockerconfigjson": base64.StdEncoding.EncodeToString([]byte(cfg))},
	})
	s, _ := f.source(t, false)
	r := repo(t, host+"/apps/x")
	pull, _ := s.ForPod(context.Background(), Pod{Namespace: "team", Name: "app", UID: "uid-1"})
	if _, _, ok := pull.Credential(r); ok {
		t.Error("a ConfigMap answer was used as a secret")
	}
	if none := pull.None(r); !strings.Contains(none, `"ConfigMap", not a Secret`) {
		t.Errorf("note: %s", none)
	}
}
