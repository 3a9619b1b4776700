// The client-go reference for hack/bench/kube.sh: a typed ConfigMap informer (the way a
// controller written with client-go caches objects), measured exactly as
// tests/bench/kube_informer_bench.c measures lib/kube: list+watch sync time, resident
// memory per cached object after a GC, and the rate of update events handled.
//
//	informer sync NS        informer events NS N
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

func rssKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(s.Text())[1], 10, 64)
			return v
		}
	}
	return -1
}

// cpuS is the CPU time (user + system) of the whole process, as tests/bench/kube_informer_bench.c.
func cpuS() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: informer sync NS | events NS N")
		os.Exit(2)
	}
	ns := os.Args[2]
	var target int64
	if os.Args[1] == "events" && len(os.Args) == 4 {
		target, _ = strconv.ParseInt(os.Args[3], 10, 64)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		os.Exit(1)
	}
	cfg.QPS = -1 // no client-side limit, as the C side
	client := "client-go"
	if os.Getenv("CLIENT_GO_JSON") != "" {
		// the same wire format as lib/kube (client-go asks built-in types in protobuf by default)
		cfg.ContentType = "application/json"
		cfg.AcceptContentTypes = "application/json"
		client = "client-go-json"
	}
	cs := kubernetes.NewForConfigOrDie(cfg)

	var mu sync.Mutex
	var updates int64
	var first, done time.Time
	var cpuFirst, cpuDone float64
	runtime.GC()
	debug.FreeOSMemory()
	before := rssKB()

	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().ConfigMaps().Informer()
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(o, n interface{}) {
			_ = n.(*corev1.ConfigMap)
			mu.Lock()
			updates++
			if updates == 1 {
				first = time.Now()
				cpuFirst = cpuS()
			}
			if updates == target {
				done = time.Now()
				cpuDone = cpuS()
			}
			mu.Unlock()
		},
	})
	stop := make(chan struct{})
	t0 := time.Now()
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		fmt.Fprintln(os.Stderr, "informer did not sync")
		os.Exit(1)
	}
	syncS := time.Since(t0).Seconds()
	n := len(inf.GetStore().ListKeys())
	runtime.GC()
	debug.FreeOSMemory()
	after := rssKB()
	evS, cpuUs := 0.0, 0.0
	if target > 0 {
		deadline := time.Now().Add(10 * time.Minute)
		for {
			mu.Lock()
			finished := !done.IsZero()
			mu.Unlock()
			if finished || time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if !done.IsZero() && done.After(first) {
			evS = float64(target-1) / done.Sub(first).Seconds()
		}
		if !done.IsZero() {
			cpuUs = (cpuDone - cpuFirst) * 1e6 / float64(target-1)
		}
	}
	fmt.Printf("{\"client\":\"%s\",\"objects\":%d,\"sync_s\":%.3f,\"rss_before_kb\":%d,\"rss_after_kb\":%d,"+
		"\"bytes_per_object\":%.0f,\"events\":%d,\"events_per_s\":%.0f,\"cpu_us_per_event\":%.1f}\n",
		client, n, syncS, before, after, float64(after-before)*1024/float64(max(n, 1)), updates, evS, cpuUs)
	close(stop)
	if target > 0 && done.IsZero() {
		os.Exit(1)
	}
}
