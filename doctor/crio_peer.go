package doctor

import "github.com/signgate/signgate/internal/peercred"

// rootOrSelf is whom doctor believes about CRI-O's running config: root
// (CRI-O runs as root) or doctor's own user. Another user's process on
// crio_socket (a socket in a directory others can write) could say the
// gate is on when it is not.
func rootOrSelf(uid uint32) bool { return peercred.RootOrSelf(uid) }
