// Copyright (c) 2026 vsphere.preemption contributors
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

// Command vcsim is the vsphere.preemption test vCenter: govmomi's vCenter
// simulator (VPX model) with the /rest tagging endpoints, HTTPS with a
// certificate of our choosing, and a way to mark VMs as running VMware Tools.
//
// Build offline against Debian's govmomi 0.24 sources:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o vcsim tests/support/vcsim/main.go
//
// Flags shared with govmomi's own vcsim command keep the official names and
// meanings (-l -dc -cluster -host -standalone-host -vm -pool -folder -ds -app
// -username -password -tlscert -tlskey -delay -method-delay -delay-jitter
// -trace), so the official binary is a drop-in replacement wherever the extra
// flags below are not used. Extra flags: -tools-running none|all|VM1,VM2,...
// and -task-duration Method:ms,... (see asyncTasks: the call returns at once,
// as vCenter's does, and the work completes that long afterwards).
//
// Extra endpoint: POST /preemption-test/usage sets CPU and memory usage, which
// vcsim 0.24 leaves empty (see usageControl).
//
// When the server is ready, it prints the official line to stdout:
//
//	export GOVC_URL=https://USER:PASS@127.0.0.1:PORT/sdk GOVC_SIM_PID=PID
//
// and serves until SIGINT or SIGTERM, then exits 0.
//
// Inventory of the default model (-dc 1 -cluster 1 -host 3 -standalone-host 1
// -vm 2 -pool 0). Moids are assigned in creation order: these are the default
// model's (stable from run to run), and they shift when the counts change, so
// look objects up by name.
//
//	Datacenter        DC0                 datacenter-2   (vm folder folder-3)
//	standalone host   DC0_H0              host-21        in ComputeResource DC0_H0 computeresource-23,
//	                                                     root pool Resources resgroup-22
//	cluster           DC0_C0              clustercomputeresource-27 (NOT domain-c* as on a real
//	                                                     vCenter), root pool Resources resgroup-26
//	cluster hosts     DC0_C0_H0, _H1, _H2 host-34, host-42, host-50
//	VMs               DC0_H0_VM0          vm-57  on DC0_H0
//	                  DC0_H0_VM1          vm-60  on DC0_H0
//	                  DC0_C0_RP0_VM0      vm-63  in DC0_C0, on a cluster host picked at random
//	                  DC0_C0_RP0_VM1      vm-66  in DC0_C0, on a cluster host picked at random
//	datastore         LocalDS_0           moid "<temp dir path>@folder-5" (a path, not datastore-*)
//	networks          VM Network network-7, DC0_DVPG0 dvportgroup-13
//
// All VMs are poweredOn (Autostart), not templates, in folder /DC0/vm, with
// guest.toolsRunningStatus guestToolsNotRunning unless -tools-running names them.
// With -pool N each cluster also gets child pools DC0_C0_RP1..N with -vm VMs
// each (DC0_C0_RP1_VM0, ...); with -cluster N: DC0_C0 .. DC0_C{N-1}.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	// Register the vAPI (/rest) endpoints: sessions, tagging, content library.
	_ "github.com/vmware/govmomi/vapi/simulator"
)

func main() {
	model := simulator.VPX()

	flag.IntVar(&model.Datacenter, "dc", model.Datacenter, "Number of datacenters")
	flag.IntVar(&model.Cluster, "cluster", model.Cluster, "Number of clusters")
	flag.IntVar(&model.ClusterHost, "host", model.ClusterHost, "Number of hosts per cluster")
	flag.IntVar(&model.Host, "standalone-host", model.Host, "Number of standalone hosts")
	flag.IntVar(&model.Datastore, "ds", model.Datastore, "Number of local datastores")
	flag.IntVar(&model.Machine, "vm", model.Machine, "Number of virtual machines per resource pool")
	flag.IntVar(&model.Pool, "pool", model.Pool, "Number of resource pools per compute resource")
	flag.IntVar(&model.App, "app", model.App, "Number of virtual apps per compute resource")
	flag.IntVar(&model.Folder, "folder", model.Folder, "Number of folders")
	flag.BoolVar(&model.Autostart, "autostart", model.Autostart, "Autostart model created VMs")

	listen := flag.String("l", "127.0.0.1:8989", "Listen address for vcsim")
	user := flag.String("username", "", "Login username for vcsim (any username allowed by default)")
	pass := flag.String("password", "", "Login password for vcsim (any password allowed by default)")
	isTLS := flag.Bool("tls", true, "Enable TLS")
	cert := flag.String("tlscert", "", "Path to TLS certificate file")
	key := flag.String("tlskey", "", "Path to TLS key file")
	flag.BoolVar(&simulator.Trace, "trace", simulator.Trace, "Trace SOAP to stderr")

	flag.IntVar(&model.DelayConfig.Delay, "delay", model.DelayConfig.Delay, "Method response delay across all methods")
	methodDelay := flag.String("method-delay", "", "Delay per method on the form 'method1:delay1,method2:delay2...'")
	flag.Float64Var(&model.DelayConfig.DelayJitter, "delay-jitter", model.DelayConfig.DelayJitter,
		"Delay jitter coefficient of variation (tip: 0.5 is a good starting value)")

	toolsRunning := flag.String("tools-running", "none",
		"VMs reporting VMware Tools running: none, all, or a comma-separated list of VM names")
	faultTolerance := flag.String("fault-tolerance", "",
		"VMs marked as Fault Tolerance VMs, on the form 'VM1:1,VM2:2' (VM name:role, 1 the primary, 2 a secondary)")
	taskDuration := flag.String("task-duration", "",
		"Methods answered at once and completed later, on the form 'PowerOffVM_Task:3000,ShutdownGuest:2000' (ms)")

	flag.Parse()

	u := &url.URL{Host: *listen}
	if *user != "" {
		u.User = url.UserPassword(secret(*user), secret(*pass))
	}

	if *methodDelay != "" {
		m, err := parseMethodDelay(*methodDelay)
		if err != nil {
			log.Fatal(err)
		}
		model.DelayConfig.MethodDelay = m
	}

	if err := updateHostTemplate(u.Host); err != nil {
		log.Fatal(err)
	}

	model.ServiceContent.About.FullName += " (govmomi simulator)"

	if err := model.Create(); err != nil {
		log.Fatal(err)
	}

	if err := markToolsRunning(*toolsRunning); err != nil {
		log.Fatal(err)
	}
	if err := markFaultTolerance(*faultTolerance); err != nil {
		log.Fatal(err)
	}

	model.Service.RegisterEndpoints = true
	model.Service.Listen = u
	if *isTLS {
		model.Service.TLS = new(tls.Config)
		if *cert != "" || *key != "" {
			c, err := tls.LoadX509KeyPair(*cert, *key)
			if err != nil {
				log.Fatal(err)
			}
			model.Service.TLS.Certificates = []tls.Certificate{c}
		}
	}

	s := model.Service.NewServer()
	s.Config.Handler = &usageControl{next: s.Config.Handler}
	if *taskDuration != "" {
		durations, err := parseMethodDelay(*taskDuration)
		if err != nil {
			log.Fatal(err)
		}
		// Before the URL is printed, so before any request.
		s.Config.Handler = &asyncTasks{next: s.Config.Handler, duration: durations}
	}

	if _, err := fmt.Fprintf(os.Stdout, "export GOVC_URL=%s GOVC_SIM_PID=%d\n", s.URL, os.Getpid()); err != nil {
		log.Fatal(err)
	}
	_ = os.Stdout.Sync()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig

	s.Close()
	model.Remove()
}

// parseMethodDelay parses the official vcsim format "Method1:ms1,Method2:ms2".
func parseMethodDelay(spec string) (map[string]int, error) {
	m := make(map[string]int)
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		tuples := strings.Split(s, ":")
		if len(tuples) != 2 {
			return nil, fmt.Errorf("incorrect method delay format: %q (want Method:ms)", s)
		}
		value, err := strconv.Atoi(strings.TrimSpace(tuples[1]))
		if err != nil {
			return nil, fmt.Errorf("incorrect format of method-delay argument %q: %s", s, err)
		}
		m[strings.TrimSpace(tuples[0])] = value
	}
	return m, nil
}

// markFaultTolerance gives the selected VMs the properties vCenter shows on a
// Fault Tolerance primary (role 1) or secondary (role 2 or more):
// runtime.faultToleranceState running and config.ftInfo. The simulator has no
// Fault Tolerance of its own. Runs before the server starts.
func markFaultTolerance(spec string) error {
	wanted := map[string]int32{}
	for _, item := range strings.Split(spec, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		role, err := strconv.Atoi(strings.TrimSpace(parts[len(parts)-1]))
		if len(parts) != 2 || err != nil || role < 1 {
			return fmt.Errorf("incorrect fault-tolerance item %q (want VM:role, role 1 or more)", item)
		}
		wanted[strings.TrimSpace(parts[0])] = int32(role)
	}
	var primaries, secondaries []*simulator.VirtualMachine
	for _, e := range simulator.Map.All("VirtualMachine") {
		if vm, ok := e.(*simulator.VirtualMachine); ok {
			if role, selected := wanted[vm.Name]; selected && role == 1 {
				primaries = append(primaries, vm)
			} else if selected {
				secondaries = append(secondaries, vm)
			}
		}
	}
	for _, vm := range append(primaries, secondaries...) {
		role := wanted[vm.Name]
		delete(wanted, vm.Name)
		info := types.FaultToleranceConfigInfo{Role: role, InstanceUuids: []string{vm.Config.InstanceUuid}, ConfigPaths: []string{vm.Config.Files.VmPathName}}
		if role == 1 {
			// Every reference must name its type: pyVmomi cannot read one without.
			var others []types.ManagedObjectReference
			for _, other := range secondaries {
				others = append(others, other.Self)
			}
			vm.Config.FtInfo = &types.FaultTolerancePrimaryConfigInfo{FaultToleranceConfigInfo: info, Secondaries: others}
		} else {
			primary := vm.Self
			if len(primaries) > 0 {
				primary = primaries[0].Self
			}
			vm.Config.FtInfo = &types.FaultToleranceSecondaryConfigInfo{FaultToleranceConfigInfo: info, PrimaryVM: primary}
		}
		vm.Runtime.FaultToleranceState = types.VirtualMachineFaultToleranceStateRunning
		vm.Summary.Runtime.FaultToleranceState = types.VirtualMachineFaultToleranceStateRunning
	}
	for name := range wanted {
		return fmt.Errorf("fault-tolerance: no VM named %q", name)
	}
	return nil
}

// markToolsRunning makes the selected VMs report VMware Tools as running and
// OK. The simulator leaves this status alone afterwards (power operations do
// not change it). Runs before the server starts, so nothing else touches the
// objects concurrently.
func markToolsRunning(spec string) error {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "none" {
		return nil
	}
	all := spec == "all"
	wanted := map[string]bool{}
	if !all {
		for _, name := range strings.Split(spec, ",") {
			if name = strings.TrimSpace(name); name != "" {
				wanted[name] = false
			}
		}
	}

	for _, e := range simulator.Map.All("VirtualMachine") {
		vm, ok := e.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		if _, selected := wanted[vm.Name]; !all && !selected {
			continue
		}
		wanted[vm.Name] = true
		running := string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
		if vm.Guest == nil {
			vm.Guest = new(types.GuestInfo)
		}
		vm.Guest.ToolsRunningStatus = running
		vm.Guest.ToolsStatus = types.VirtualMachineToolsStatusToolsOk
		vm.Guest.ToolsVersionStatus2 = string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent)
		vm.Guest.GuestState = "running"
		if vm.Summary.Guest == nil {
			vm.Summary.Guest = new(types.VirtualMachineGuestSummary)
		}
		vm.Summary.Guest.ToolsRunningStatus = running
		vm.Summary.Guest.ToolsStatus = types.VirtualMachineToolsStatusToolsOk
		vm.Summary.Guest.ToolsVersionStatus2 = vm.Guest.ToolsVersionStatus2
	}

	var missing []string
	for name, found := range wanted {
		if !found {
			missing = append(missing, name)
		}
	}
	if len(missing) != 0 {
		return fmt.Errorf("-tools-running: no VM named %s", strings.Join(missing, ", "))
	}
	return nil
}

// updateHostTemplate points the simulated hosts' management address at the
// listen address, as the official vcsim does.
func updateHostTemplate(ip string) error {
	addr, port, err := net.SplitHostPort(ip)
	if err != nil {
		return err
	}
	esx.HostSystem.Summary.ManagementServerIp = addr
	if port != "0" {
		n, err := strconv.Atoi(port)
		if err != nil {
			return err
		}
		esx.HostSystem.Summary.Config.Port = int32(n)
	}
	return nil
}

// secret returns the value, or the content of the file it names (as the
// official vcsim does for -username/-password).
func secret(s string) string {
	val, err := session.Secret(s)
	if err != nil {
		log.Fatal(err)
	}
	return val
}

// asyncTasks makes chosen VM methods behave as on vCenter, where the call
// returns a task at once and the task ends later: vcsim 0.24 runs the whole
// task inside the call. For a SOAP call of a method in duration on a
// VirtualMachine, it answers at once (with a new queued task for the *_Task
// methods, an empty answer for ShutdownGuest), then, after the duration, hands
// the original request to the simulator and copies the end state, result and
// error of the simulator's own task into the task it answered with.
type asyncTasks struct {
	next     http.Handler
	duration map[string]int
}

var (
	soapCall   = regexp.MustCompile(`<(\w+)[^>]*>\s*<_this[^>]*type="VirtualMachine"[^>]*>([^<]+)</_this>`)
	taskReturn = regexp.MustCompile(`<returnval[^>]*type="Task"[^>]*>([^<]+)</returnval>`)
)

func (a *asyncTasks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/sdk") {
		a.next.ServeHTTP(w, r)
		return
	}
	body, err := ioutil.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = ioutil.NopCloser(bytes.NewReader(body))
	match := soapCall.FindSubmatch(body)
	if match == nil {
		a.next.ServeHTTP(w, r)
		return
	}
	method, moid := string(match[1]), string(match[2])
	ms, delayed := a.duration[method]
	vm := simulator.Map.Get(types.ManagedObjectReference{Type: "VirtualMachine", Value: moid})
	if !delayed || vm == nil {
		a.next.ServeHTTP(w, r)
		return
	}
	later := r.Clone(context.Background())
	var task *simulator.Task
	answer := ""
	if strings.HasSuffix(method, "_Task") {
		task = simulator.CreateTask(vm, strings.TrimSuffix(method, "_Task"), nil)
		answer = fmt.Sprintf(`<returnval type="Task">%s</returnval>`, task.Self.Value)
	}
	go func() {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		if task != nil {
			simulator.Map.Update(task, []types.PropertyChange{
				{Name: "info.startTime", Val: time.Now()},
				{Name: "info.state", Val: types.TaskInfoStateRunning},
			})
		}
		later.Body = ioutil.NopCloser(bytes.NewReader(body))
		recorder := httptest.NewRecorder()
		a.next.ServeHTTP(recorder, later)
		if task != nil {
			finish(task, recorder.Body.Bytes())
		}
	}()
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" `+
		`xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" `+
		`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>`+
		`<%sResponse xmlns="urn:vim25">%s</%sResponse></soapenv:Body></soapenv:Envelope>`, method, answer, method)
}

// finish ends task as the simulator's own task (named in its SOAP answer) ended.
func finish(task *simulator.Task, answer []byte) {
	changes := []types.PropertyChange{{Name: "info.completeTime", Val: time.Now()}}
	match := taskReturn.FindSubmatch(answer)
	var inner *simulator.Task
	if match != nil {
		inner, _ = simulator.Map.Get(types.ManagedObjectReference{Type: "Task", Value: string(match[1])}).(*simulator.Task)
	}
	switch {
	case inner == nil:
		changes = append(changes,
			types.PropertyChange{Name: "info.state", Val: types.TaskInfoStateError},
			types.PropertyChange{Name: "info.error", Val: types.LocalizedMethodFault{
				Fault: &types.SystemError{Reason: "the delayed call failed"}, LocalizedMessage: "the delayed call failed"}})
	case inner.Info.Error != nil:
		changes = append(changes,
			types.PropertyChange{Name: "info.state", Val: inner.Info.State},
			types.PropertyChange{Name: "info.error", Val: *inner.Info.Error})
	default:
		changes = append(changes, types.PropertyChange{Name: "info.state", Val: inner.Info.State})
		if inner.Info.Result != nil {
			changes = append(changes, types.PropertyChange{Name: "info.result", Val: inner.Info.Result})
		}
	}
	simulator.Map.Update(task, changes)
}

// usageControl serves POST /preemption-test/usage, a JSON body
//
//	{"vms":      {"VM name":      {"cpu_mhz": 2400, "memory_mb": 4096}},
//	 "hosts":    {"host name":    {"cpu_mhz": 9000, "memory_mb": 30000}},
//	 "clusters": {"cluster name": {"cpu_mhz": 77280, "memory_mb": 200000,
//	                               "cpu_capacity_mhz": 84000, "memory_capacity_mb": 393216}}}
//
// setting what vcsim 0.24 leaves empty: a VM's summary.quickStats
// (overallCpuUsage, hostMemoryUsage), a host's (overallCpuUsage,
// overallMemoryUsage) and a cluster's summary.usageSummary (cpuDemandMhz,
// memDemandMB, and totalCpuCapacityMhz/totalMemCapacityMB, by default the
// cluster's totalCpu and effectiveMemory in MB). Every other request goes on.
// Power operations leave these numbers alone, as vCenter's statistics lag:
// a test sets what a scope uses after a preemption.
type usageControl struct {
	next http.Handler
}

type usage struct {
	CPU         *int32 `json:"cpu_mhz"`
	Memory      *int32 `json:"memory_mb"`
	CPUCapacity *int32 `json:"cpu_capacity_mhz"`
	MemCapacity *int32 `json:"memory_capacity_mb"`
}

type usageRequest struct {
	VMs      map[string]usage `json:"vms"`
	Hosts    map[string]usage `json:"hosts"`
	Clusters map[string]usage `json:"clusters"`
}

func (u *usageControl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/preemption-test/usage" {
		u.next.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST a JSON body", http.StatusMethodNotAllowed)
		return
	}
	var request usageRequest
	decoder := json.NewDecoder(r.Body)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&request); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := applyUsage(request); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// withNamed runs f, under the object's lock, on the entity of kind called name.
func withNamed(kind, name string, f func(e mo.Entity)) error {
	for _, e := range simulator.Map.All(kind) {
		if e.Entity().Name == name {
			simulator.Map.WithLock(e, func() { f(e) })
			return nil
		}
	}
	return fmt.Errorf("no %s named %q", kind, name)
}

func set(target *int32, value *int32) {
	if value != nil {
		*target = *value
	}
}

// applyUsage sets what each named VM, host and cluster of the request uses (and a cluster's capacity).
func applyUsage(request usageRequest) error {
	for _, kind := range []struct {
		kind  string
		named map[string]usage
		apply func(e mo.Entity, values usage)
	}{
		{"VirtualMachine", request.VMs, vmUsage},
		{"HostSystem", request.Hosts, hostUsage},
		{"ClusterComputeResource", request.Clusters, clusterUsage},
	} {
		for name, values := range kind.named {
			values := values
			if err := withNamed(kind.kind, name, func(e mo.Entity) { kind.apply(e, values) }); err != nil {
				return err
			}
		}
	}
	return nil
}

func vmUsage(e mo.Entity, values usage) {
	vm := e.(*simulator.VirtualMachine)
	set(&vm.Summary.QuickStats.OverallCpuUsage, values.CPU)
	set(&vm.Summary.QuickStats.HostMemoryUsage, values.Memory)
}

func hostUsage(e mo.Entity, values usage) {
	host := e.(*simulator.HostSystem)
	set(&host.Summary.QuickStats.OverallCpuUsage, values.CPU)
	set(&host.Summary.QuickStats.OverallMemoryUsage, values.Memory)
}

func clusterUsage(e mo.Entity, values usage) {
	summary := e.(*simulator.ClusterComputeResource).Summary.(*types.ClusterComputeResourceSummary)
	if summary.UsageSummary == nil {
		summary.UsageSummary = new(types.ClusterUsageSummary)
	}
	us := summary.UsageSummary
	if us.TotalCpuCapacityMhz == 0 {
		us.TotalCpuCapacityMhz = summary.TotalCpu
		// vcsim keeps effectiveMemory in bytes; vCenter reports MB.
		us.TotalMemCapacityMB = int32(summary.EffectiveMemory / (1024 * 1024))
	}
	set(&us.CpuDemandMhz, values.CPU)
	set(&us.MemDemandMB, values.Memory)
	set(&us.TotalCpuCapacityMhz, values.CPUCapacity)
	set(&us.TotalMemCapacityMB, values.MemCapacity)
	us.StatsGenNumber++
}
