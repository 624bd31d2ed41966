package devstack

import (
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/pkg/state"
)

// BenchmarkMotoStart starts moto_server alone, as Start does, and stops it:
// ready-ms is from its start to its first ListTables answer (what the
// README quotes), the ns/op adds the state table's creation and Stop.
//
//	go test -run '^$' -bench MotoStart -benchtime 10x ./internal/devstack/
func BenchmarkMotoStart(b *testing.B) {
	var ready time.Duration
	for b.Loop() {
		s := &Stack{Dir: b.TempDir(), StateTable: state.DefaultTable}
		err := s.startMoto(b.Context(), Options{Region: "us-east-1", Account: "111122223333", Timeout: 60 * time.Second})
		ready += s.DynamoDBReady
		if stopErr := s.Stop(); err != nil || stopErr != nil {
			b.Fatal(err, stopErr)
		}
	}
	b.ReportMetric(float64(ready.Milliseconds())/float64(b.N), "ready-ms")
}
