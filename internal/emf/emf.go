// Package emf writes fsxkms's metrics as CloudWatch Embedded Metric Format
// lines
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
// the monitor and the Security Hub exporter write theirs alike, so that one
// dashboard and one set of alarms read both.
package emf

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Namespace is the CloudWatch namespace of fsxkms's metrics.
const Namespace = "fsxkms"

// Write writes values as one EMF line in Namespace, stamped now, with the
// dimensions Stack (when set: two stacks in one account and Region keep
// their metrics apart) and Function. Names ending in "Ms" are
// milliseconds, the rest counts.
func Write(w io.Writer, now time.Time, stack, function string, values map[string]float64) error {
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	defs := make([]metric, 0, len(names))
	doc := make(map[string]any, len(names)+3)
	for _, n := range names {
		unit := "Count"
		if strings.HasSuffix(n, "Ms") {
			unit = "Milliseconds"
		}
		defs = append(defs, metric{Name: n, Unit: unit})
		doc[n] = values[n]
	}
	doc["Function"] = function
	dims := []string{"Function"}
	if stack != "" {
		doc["Stack"] = stack
		dims = []string{"Stack", "Function"}
	}
	doc["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  Namespace,
			"Dimensions": [][]string{dims},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode EMF: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write EMF: %w", err)
	}
	return nil
}
