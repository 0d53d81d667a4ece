package doctor

import "fmt"

// KeyArtifactMounts is CRI-O's switch for OCI artifact volumes.
const KeyArtifactMounts = "crio.image.oci_artifact_mount_support"

// artifactFinding: with oci_artifact_mount_support on (CRI-O 1.35's
// default), an image volume naming an OCI artifact is mounted as plain
// binds of the artifact's files, which no image signature covers. signgate
// refuses such a container at creation; off, CRI-O looks the reference up
// as an image, finds none, and fails the creation itself.
func artifactFinding(cfg *CRIO) Finding {
	f := Finding{Guarantee: "OCI artifact volumes do not run unverified", Holds: true}
	if cfg.ArtifactMounts != nil && !*cfg.ArtifactMounts {
		f.Detail = fmt.Sprintf("[crio.image] oci_artifact_mount_support = false (%s): CRI-O fails a creation whose image volume names an OCI artifact", cfg.where(KeyArtifactMounts))
		return f
	}
	f.Detail = fmt.Sprintf("[crio.image] oci_artifact_mount_support is on (%s): CRI-O mounts an image volume naming an OCI artifact as binds of its files from its artifact stores, "+
		"which signgate refuses at creation (it cannot verify artifacts yet); set oci_artifact_mount_support = false (the drop-in does) to have CRI-O refuse them itself", cfg.where(KeyArtifactMounts))
	return f
}
