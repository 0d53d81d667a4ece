package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	namespacesapi "github.com/containerd/containerd/api/services/namespaces/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/task"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// A containerd shim outlives its containerd by design, and with it the
// container processes it runs. `crictl rmp -fa` removes only the pods CRI
// knows: containerd before 2.2 starts a sandbox's task, and when NRI's
// RunPodSandbox refuses it (signgate denying the pause image), returns the
// error without shutting the sandbox down or recording it, so no CRI call
// can reach it; its shim and pause process ran on after every suite of
// `make matrix`. So teardown also kills and deletes every task containerd
// still runs, in every namespace, before stopping it, and then checks
// that no shim of this containerd is left (LeftoverShims).

// killTasks kills (SIGKILL, every process) and deletes each task the
// containerd runs, in each of its namespaces.
func (e *Env) killTasks(ctx context.Context) error {
	conn, err := grpc.NewClient("unix://"+e.ContainerdSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	nss, err := namespacesapi.NewNamespacesClient(conn).List(ctx, &namespacesapi.ListNamespacesRequest{})
	if err != nil {
		return fmt.Errorf("listing containerd's namespaces: %w", err)
	}
	tasks := tasksapi.NewTasksClient(conn)
	var errs []string
	for _, ns := range nss.GetNamespaces() {
		nctx := metadata.AppendToOutgoingContext(ctx, "containerd-namespace", ns.GetName())
		list, err := tasks.List(nctx, &tasksapi.ListTasksRequest{})
		if err != nil {
			errs = append(errs, fmt.Sprintf("namespace %s: listing tasks: %v", ns.GetName(), err))
			continue
		}
		for _, t := range list.GetTasks() {
			_, _ = tasks.Kill(nctx, &tasksapi.KillRequest{ContainerID: t.GetID(), Signal: uint32(syscall.SIGKILL), All: true})
			wctx, cancel := context.WithTimeout(nctx, 5*time.Second)
			_, _ = tasks.Wait(wctx, &tasksapi.WaitRequest{ContainerID: t.GetID()})
			cancel()
			if _, err := tasks.Delete(nctx, &tasksapi.DeleteTaskRequest{ContainerID: t.GetID()}); err != nil {
				errs = append(errs, fmt.Sprintf("namespace %s: deleting task %s: %v", ns.GetName(), t.GetID(), err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// knownContainers names every container containerd still records, in any
// namespace, after teardown's kills: a shim's -id is its pod's sandbox (or
// its own container's) id, so a shim left whose id is not among them is
// one containerd itself lost track of (see shimsLeft).
func (e *Env) knownContainers(ctx context.Context) (map[string]bool, error) {
	conn, err := grpc.NewClient("unix://"+e.ContainerdSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	nss, err := namespacesapi.NewNamespacesClient(conn).List(ctx, &namespacesapi.ListNamespacesRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing containerd's namespaces: %w", err)
	}
	known := map[string]bool{}
	for _, ns := range nss.GetNamespaces() {
		nctx := metadata.AppendToOutgoingContext(ctx, "containerd-namespace", ns.GetName())
		list, err := containersapi.NewContainersClient(conn).List(nctx, &containersapi.ListContainersRequest{})
		if err != nil {
			return nil, fmt.Errorf("namespace %s: listing containers: %w", ns.GetName(), err)
		}
		for _, c := range list.GetContainers() {
			known[c.GetID()] = true
		}
	}
	return known, nil
}

// shimID is the -id a shim was started with.
func shimID(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-id" {
			return args[i+1]
		}
	}
	return ""
}

// LeftoverShims lists the shim processes serving this env's containerd
// (started with -address its socket), as "pid cmdline".
func (e *Env) LeftoverShims() []string {
	var out []string
	for _, pid := range shimPIDs(e.ContainerdSock) {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		out = append(out, fmt.Sprintf("%d %s", pid, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))))
	}
	return out
}

func shimPIDs(address string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-address" && args[i+1] == address {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// killTree kills pid's descendants, then pid: a shim's container
// processes are its children, and would outlive it.
func killTree(pid int) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, c := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(c); err == nil {
			killTree(n)
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// shimsLeft waits a moment for this env's shims to exit (one exits once
// its tasks are deleted), then kills those left, with their containers'
// processes, and names them, saying whether containerd still recorded
// their container after teardown's kills (known; nil: not asked).
func (e *Env) shimsLeft(known map[string]bool) []string {
	if e.crio {
		return nil
	}
	_ = WaitFor(5*time.Second, func() error {
		if left := e.LeftoverShims(); len(left) > 0 {
			return fmt.Errorf("%d shims left", len(left))
		}
		return nil
	})
	var left []string
	for _, pid := range shimPIDs(e.ContainerdSock) {
		recorded := "not asked"
		if known != nil {
			recorded = fmt.Sprint(known[shimID(pid)])
		}
		left = append(left, fmt.Sprintf("%d %s (container still recorded by containerd: %s; processes: %s)",
			pid, strings.Join(procCmdline(pid), " "), recorded, strings.Join(descendants(pid), "; ")))
		killTree(pid)
	}
	return left
}

func procCmdline(pid int) []string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// descendants names pid's child processes, and theirs, by command line.
func descendants(pid int) []string {
	var out []string
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, c := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(c); err == nil {
			out = append(out, fmt.Sprintf("%d %s", n, strings.Join(procCmdline(n), " ")))
			out = append(out, descendants(n)...)
		}
	}
	return out
}

// RunningTasks names the tasks running in CRI's containerd namespace
// (k8s.io): a container's, or a pod sandbox's, CRI knows of it or not.
func (e *Env) RunningTasks(ctx context.Context) (map[string]bool, error) {
	conn, err := grpc.NewClient("unix://"+e.ContainerdSock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	list, err := tasksapi.NewTasksClient(conn).List(metadata.AppendToOutgoingContext(ctx, "containerd-namespace", "k8s.io"), &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, t := range list.GetTasks() {
		if t.GetStatus() == task.Status_RUNNING {
			out[t.GetID()] = true
		}
	}
	return out, nil
}
