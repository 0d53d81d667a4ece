package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/signgate/signgate/integration/harness"
)

// crioRows measures a create on CRI-O beside containerd, on the same
// machine and the same images: each runtime with signgate and with NRI on
// but no plugin, creates alternating between the four. On CRI-O signgate
// reads the storage files on every creation (no events to learn from).
func crioRows(start func(harness.Options) *harness.Env) []row {
	ctdGated := start(harness.Options{DropIn: "packaging/containerd/signgate.toml"})
	defer stop(ctdGated)
	ctdNRI := start(harness.Options{NoGate: true})
	defer stop(ctdNRI)
	crioGated := start(harness.Options{Runtime: harness.RuntimeCRIO, DropIn: "packaging/crio/10-signgate.conf"})
	defer stop(crioGated)
	crioNRI := start(harness.Options{Runtime: harness.RuntimeCRIO, NoGate: true})
	defer stop(crioNRI)
	lat := creates([]*harness.Env{ctdGated, ctdNRI, crioGated, crioNRI})
	return []row{
		summarize("crictl create, containerd 2.2, NRI on, no plugin", lat[1], ""),
		summarize("crictl create, containerd 2.2, with signgate", lat[0], fmt.Sprintf("adds %s over NRI alone", paired(lat[0], lat[1]))),
		summarize("crictl create, CRI-O "+crioGated.CRIOVersion()+", NRI on, no plugin", lat[3], ""),
		summarize("crictl create, CRI-O "+crioGated.CRIOVersion()+", with signgate", lat[2], fmt.Sprintf("adds %s over NRI alone (storage files read per creation)", paired(lat[2], lat[3]))),
	}
}

// crioTable is SIGNGATE_BENCH=crio: the CRI-O rows alone.
func crioTable(start func(harness.Options) *harness.Env) {
	rows := crioRows(start)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nmeasurement\tmedian\tp90\tn\tnote")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.what, fmtDur(r.median), fmtDur(r.p90), r.n, r.note)
	}
	tw.Flush()
}
