package doctor

import "fmt"

// KeyCRIU is CRI-O's switch for checkpoint restores.
const KeyCRIU = "crio.runtime.enable_criu_support"

// restoreFinding: CRI-O restores a checkpoint when CreateContainer names
// a checkpoint archive or image. Only the creation on the base image the
// checkpoint names reaches NRI, and nothing in it marks the restore; the
// checkpoint's files and process memory are put in at start, which NRI is
// not told of. signgate cannot verify them, so CRI-O must not restore.
// Its running config says false where criu is not in its PATH.
// While it restores, signgate refuses every creation, asking CRI-O
// (crio_socket) or reading its files, unless crio_checkpoint_restore_unsafe
// says not to.
func restoreFinding(cfg *CRIO, n Node) Finding {
	f := Finding{Guarantee: "CRI-O restores no checkpoint (files and memory signgate never sees)"}
	if cfg.CRIUSupport != nil && !*cfg.CRIUSupport {
		f.Holds, f.Detail = true, fmt.Sprintf("[crio.runtime] enable_criu_support = false (%s)", cfg.where(KeyCRIU))
		return f
	}
	f.Detail = fmt.Sprintf("[crio.runtime] enable_criu_support is on (%s): with criu in CRI-O's PATH, a CreateContainer naming a checkpoint archive or image is created on the base image the checkpoint names, which is all signgate sees and verifies, and the checkpoint's files and process memory, unverified, are restored at start; set enable_criu_support = false (the drop-in does)", cfg.where(KeyCRIU))
	switch {
	case n.CRIORestoreUnsafe:
		f.Detail += "; [daemon.runtime] crio_checkpoint_restore_unsafe = true: signgate admits creations all the same"
	case n.CRIOStop.Socket == "":
		f.Detail += "; signgate, with no crio_socket to ask CRI-O on, reads these files ([daemon.runtime] crio_config and crio_config_dir) at each NRI connection and refuses every creation meanwhile"
	default:
		f.Detail += "; signgate, asking CRI-O's running config on crio_socket " + n.CRIOStop.Socket + ", refuses every creation meanwhile"
	}
	return f
}
