package nri

import (
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// What binding an admission to its request adds to each creation: the key
// built twice (CreateContainer and the validator), one add and one take.
func BenchmarkAdmission(b *testing.B) {
	pod := &api.PodSandbox{Id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	c := ctr("c-good", "registry.example.com/team/app:v1.2.3",
		&api.Mount{Source: "/var/lib/kubelet/pods/x/volumes/kubernetes.io~empty-dir/cache", Destination: "/cache"},
		&api.Mount{Source: "/var/lib/containerd/io.containerd.grpc.v1.cri/image-volumes/p/" + hexOf('1'), Destination: "/vol"})
	var a admittedSet
	for b.Loop() {
		a.add(c.Id, admissionKey(pod, c), 1)
		if !a.take(c.Id, admissionKey(pod, c), 1) {
			b.Fatal("not taken")
		}
	}
}
