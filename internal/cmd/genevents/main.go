// Command genevents writes events/: one sample EventBridge event per KMS
// event name the monitor acts on and per native KMS event, from
// internal/scenario, so `sam local invoke -e` and `make invoke` have real
// shapes to send. internal/scenario's tests check the files are current.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

func main() {
	dir := flag.String("dir", "events", "folder to write the sample events to")
	flag.Parse()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "genevents:", err)
		os.Exit(1)
	}
	samples := scenario.Samples(kmsevent.RelevantEventNames(), kmsevent.NativeDetailTypes())
	for _, s := range samples {
		if err := os.WriteFile(filepath.Join(*dir, s.File), s.Event, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "genevents:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("wrote %d sample events to %s\n", len(samples), *dir)
}
