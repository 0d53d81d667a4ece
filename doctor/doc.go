// Package doctor reads a node's containerd, its version and its
// configuration files, and says which of signgate's guarantees hold on that
// node and what to change for those that do not (`signgate doctor`).
package doctor
