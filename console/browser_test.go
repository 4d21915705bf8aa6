package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The browser tests drive the console in headless Chromium (Debian's
// chromium, which .ci/run installs) with chromedp: every page, the click
// path topic -> records -> subject -> diff, producing a refused record and
// a good one, the live follow, and a group's offset reset. Each page must
// log no console error (script errors, CSP violations, failed loads) and
// fit a 375 px wide screen. A failing step leaves a screenshot in the
// test's artifact directory (go test -artifacts keeps it).

// chromiumPath finds the browser, or skips the test saying what is missing.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if p := "/usr/bin/chromium"; fileExists(p) {
		return p
	}
	const missing = "chromium is not installed (Debian: apt-get install chromium; .ci/run installs it): the browser tests need it"
	if os.Getenv("SLUICE_REQUIRE_CHROMIUM") != "" {
		t.Fatal(missing + " and SLUICE_REQUIRE_CHROMIUM is set")
	}
	t.Skip(missing)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// browser is one headless Chromium tab on a node's console.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu   sync.Mutex
	msgs []string // console errors not yet checked
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(375, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base}
	// Start the browser, then listen to its console for the whole test.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(375, 800)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.msgs = append(b.msgs, fmt.Sprintf("%s (%s:%d)", m.String(), m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs actions; a failure takes a screenshot and fails the test.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot(what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.screenshot("eval")
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls until the JavaScript condition holds. Errors while a page
// is replaced (its JavaScript context destroyed) are retried; the last one
// is reported at the deadline.
func waitFor(cond string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(15 * time.Second)
		var last error
		for {
			ok, err := chromedp.Evaluate[bool](cond)(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if err != nil {
				last = err
			}
			if time.Now().After(deadline) {
				if last == nil {
					last = fmt.Errorf("still false: %s", cond)
				}
				return chromedp.Void{}, last
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// waitText waits until the main content shows s.
func waitText(s string) chromedp.Action[chromedp.Void] {
	return waitFor(fmt.Sprintf(`document.querySelector("main") !== null && document.querySelector("main").innerText.includes(%q)`, s))
}

// waitTitle waits until the page's heading is h1.
func waitTitle(h1 string) chromedp.Action[chromedp.Void] {
	return waitFor(fmt.Sprintf(`document.readyState === "complete" && document.querySelector("h1") !== null && document.querySelector("h1").innerText === %q`, h1))
}

func (b *browser) screenshot(what string) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("no screenshot: %v", err)
		return
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(what))
	p := filepath.Join(b.t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Logf("no screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot of the failure: %s", p)
}

// checkPage asserts what every page must do: no console errors since the
// last check (less those allowed) and no horizontal scrolling at 375 px.
func (b *browser) checkPage(what string, allowed ...string) {
	b.t.Helper()
	// Let late errors (a script, a stylesheet) arrive.
	b.do(what, waitFor(`document.readyState === "complete"`))
	b.mu.Lock()
	msgs := b.msgs
	b.msgs = nil
	b.mu.Unlock()
	for _, m := range msgs {
		ok := false
		for _, a := range allowed {
			ok = ok || strings.Contains(m, a)
		}
		if !ok {
			b.screenshot(what)
			b.t.Errorf("%s: console error: %s", what, m)
		}
	}
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 375 {
		b.screenshot(what + "-wide")
		b.t.Errorf("%s: the page is %d px wide at a 375 px viewport", what, w)
	}
	// Readable, not only narrow: no table cell is hidden past the right
	// edge (behind a table's own scroll bar: a group's lag, a change's
	// detail), and no key or value is squeezed into a column a few
	// characters wide.
	if bad := eval[string](b, cramped); bad != "" {
		b.screenshot(what + "-cramped")
		b.t.Errorf("%s: at 375 px, %s", what, bad)
	}
}

// cramped is a JavaScript expression: "" when every table cell of the
// page lies within the viewport and every key or value cell (td.json) is
// at least 250 px wide, else what is wrong.
const cramped = `(() => {
	const vw = document.documentElement.clientWidth;
	for (const td of document.querySelectorAll("main td")) {
		const r = td.getBoundingClientRect();
		if (r.width === 0) continue; // not shown (a closed details)
		const text = JSON.stringify(td.innerText.trim().slice(0, 40));
		if (r.right > vw + 1) return "the cell " + text + " ends at " + Math.round(r.right) + " px, past the " + vw + " px viewport";
		if (td.classList.contains("json") && r.width < 250) return "the key or value cell " + text + " is " + Math.round(r.width) + " px wide";
	}
	return "";
})()`

func TestBrowser(t *testing.T) {
	chromiumPath(t) // skip before starting a node
	n := startNode(t)
	b := newBrowser(t, n.URL)

	t.Run("overview is light and keyboard usable", func(t *testing.T) {
		b.t = t
		b.do("overview", chromedp.Navigate(n.URL+"/console/"), waitTitle("Overview"))
		b.checkPage("overview")
		// What the first page transferred: the document and every resource.
		size := eval[float64](b, `performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).reduce((s, e) => s + e.transferSize, 0)`)
		t.Logf("first page: %.0f bytes transferred", size)
		if size <= 0 || size > 200<<10 {
			t.Errorf("first page transferred %.0f bytes, want (0, 200 KiB]", size)
		}
		// Tab reaches the skip link first, then the navigation; Enter follows a link.
		b.do("tab", chromedp.KeyEvent(kb.Tab))
		if got := eval[string](b, `document.activeElement.className`); got != "skip" {
			t.Errorf("first Tab focused %q, want the skip link", got)
		}
		b.do("keyboard", chromedp.Focus(chromedp.CSS(`nav a[href="/console/subjects"]`)), chromedp.KeyEvent(kb.Enter), waitTitle("Subjects"))
		b.checkPage("subjects by keyboard")
	})

	t.Run("every page", func(t *testing.T) {
		b.t = t
		for _, p := range []struct{ path, h1 string }{
			{"/console/", "Overview"},
			{"/console/topics/orders", "Topic orders"},
			{"/console/topics/orders/records", "Records of orders"},
			{"/console/topics/orders/records?partition=1&from=start&raw=1", "Records of orders"},
			{"/console/topics/events/records", "Records of events"},
			{"/console/topics/orders/produce", "Produce to orders"},
			{"/console/subjects", "Subjects"},
			{"/console/subjects/orders-value", "Subject orders-value"},
			{"/console/subjects/events-value", "Subject events-value"},
			{"/console/subjects/orders-value/diff?old=1&new=3", "Diff of orders-value: version 1 to 3"},
			{"/console/groups", "Consumer groups"},
			{"/console/groups/billing", "Group billing"},
			{"/console/groups/live", "Group live"},
		} {
			b.do(p.path, chromedp.Navigate(n.URL+p.path), waitTitle(p.h1))
			b.checkPage(p.path)
		}
	})

	t.Run("topic, records, subject, diff", func(t *testing.T) {
		b.t = t
		b.do("overview", chromedp.Navigate(n.URL+"/console/"), waitTitle("Overview"))
		b.do("to the topic", chromedp.Click(chromedp.CSS(`a[href="/console/topics/orders"]`)), waitTitle("Topic orders"))
		b.checkPage("topic")
		b.do("to its records", chromedp.Click(chromedp.CSS(`a.button[href="/console/topics/orders/records"]`)), waitTitle("Records of orders"),
			waitText(`{"id":1,"total":9.5}`), waitText("orders-value v1 (id 1, AVRO)"), waitText(`{"id":2,"total":20,"note":"gift"}`))
		b.checkPage("records")
		b.do("filter by key", chromedp.SetValue(chromedp.CSS(`input[name=key]`), "k3"), chromedp.Click(chromedp.CSS(`form[aria-label="Choose records"] button[type=submit]`)),
			waitFor(`location.search.includes("key=k3")`), waitText(`with a key containing “k3”`), waitText(`"id":3`))
		if eval[bool](b, `document.querySelector("main").innerText.includes('"id":1,')`) {
			t.Errorf("the key filter k3 still shows record k1")
		}
		b.do("to the writer's subject", chromedp.Click(chromedp.CSS(`a[href="/console/subjects/orders-value?version=2"]`)), waitTitle("Subject orders-value"), waitText("version 2, schema id 2, AVRO"))
		b.checkPage("subject")
		b.do("diff 1 to 3", chromedp.SetValue(chromedp.CSS(`form[action$="/diff"] select[name=old]`), "1"), chromedp.SetValue(chromedp.CSS(`form[action$="/diff"] select[name=new]`), "3"),
			chromedp.Click(chromedp.CSS(`form[action$="/diff"] button`)), waitTitle("Diff of orders-value: version 1 to 3"),
			waitText("2 changes, 1 breaking under BACKWARD"), waitText("TYPE_MISMATCH"))
		if got := eval[int](b, `document.querySelectorAll("tr.breaking").length`); got != 1 {
			t.Errorf("%d rows marked breaking, want 1", got)
		}
		if got := eval[int](b, `document.querySelectorAll("tr.safe").length`); got != 1 {
			t.Errorf("%d rows marked safe, want 1", got)
		}
		b.checkPage("diff")
		if dir := os.Getenv("SLUICE_CONSOLE_SCREENSHOTS"); dir != "" {
			// docs/console-diff.png: SLUICE_CONSOLE_SCREENSHOTS=$PWD/../docs go test -run TestBrowser ./console
			b.do("wide", chromedp.EmulateViewport(1000, 700))
			png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "console-diff.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
			b.do("narrow", chromedp.EmulateViewport(375, 800))
		}
	})

	t.Run("produce: refused, then accepted and followed", func(t *testing.T) {
		b.t = t
		b.do("produce form", chromedp.Navigate(n.URL+"/console/topics/orders/produce"), waitTitle("Produce to orders"))
		b.do("text to a typed topic", chromedp.SetValue(chromedp.CSS(`select[name=encoding]`), "text"), chromedp.SetValue(chromedp.CSS(`textarea[name=value]`), "not avro"),
			chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), waitText("the broker refused the record"), waitText("record 0"))
		// The refusal is a 400 answer, which Chromium logs; nothing else may be.
		b.checkPage("refused", "status of 400")
		b.do("JSON through the subject", chromedp.SetValue(chromedp.CSS(`select[name=encoding]`), "json"), chromedp.SetValue(chromedp.CSS(`textarea[name=value]`), `{"id":7,"total":"seven","note":"from the browser"}`),
			chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), waitText("Produced to partition"))
		b.checkPage("produced")
		b.do("see it", chromedp.Click(chromedp.CSS(`p.flash a`)), waitTitle("Records of orders"), waitText(`"note":"from the browser"`), waitText("orders-value v3 (id 3, AVRO)"))
		b.checkPage("produced record")

		// Follow live: records produced after the click appear.
		b.do("follow", chromedp.Navigate(n.URL+"/console/topics/orders/records"), waitTitle("Records of orders"),
			chromedp.Click(chromedp.CSS(`#follow`)), waitFor(`document.querySelector("#follow").getAttribute("aria-pressed") === "true"`),
			waitFor(`document.querySelector("#follow-status").innerText.startsWith("Following")`))
		deadline := time.Now().Add(15 * time.Second)
		for i := 0; ; i++ {
			n.produce(t, "orders", record("live", avroValue(t, 2, orderV2, fmt.Sprintf(`{"id":%d,"total":1,"note":"live"}`, 1000+i)), 0, time.Now()))
			if eval[bool](b, `document.querySelector("#records-body").innerText.includes('"note":"live"')`) {
				break
			}
			if time.Now().After(deadline) {
				b.screenshot("follow")
				t.Fatal("no followed record appeared")
			}
			b.do("poll interval", chromedp.Sleep(300*time.Millisecond))
		}
		b.do("stop following", chromedp.Click(chromedp.CSS(`#follow`)), waitFor(`document.querySelector("#follow").getAttribute("aria-pressed") === "false"`))
		b.checkPage("follow")
	})

	t.Run("reset a group's offsets", func(t *testing.T) {
		b.t = t
		// From the diff page the click path goes on to the group: the
		// navigation's Groups, then the group's link.
		b.do("diff page", chromedp.Navigate(n.URL+"/console/subjects/orders-value/diff?old=1&new=3"), waitTitle("Diff of orders-value: version 1 to 3"))
		b.do("to the groups", chromedp.Click(chromedp.CSS(`nav a[href="/console/groups"]`)), waitTitle("Consumer groups"))
		b.do("to the group", chromedp.Click(chromedp.CSS(`main a[href="/console/groups/billing"]`)), waitTitle("Group billing"))
		before := eval[string](b, `document.querySelector("#total-lag").innerText`)
		if before == "0" {
			t.Fatalf("the fixture's group has no lag")
		}
		b.do("ask", chromedp.SetValue(chromedp.CSS(`select[name=to]`), "latest"), chromedp.Click(chromedp.CSS(`form[action$="/reset"]:not(.confirm) button`)),
			waitText("Reset the committed offsets of group billing on topic orders, every partition, to the latest offset"))
		b.checkPage("confirm")
		if got := eval[string](b, `document.querySelector("#total-lag").innerText`); got != before {
			t.Errorf("lag %s before confirming, want %s unchanged", got, before)
		}
		b.do("confirm", chromedp.Click(chromedp.CSS(`form.confirm button`)), waitText("Reset 2 partition offset(s) of orders."))
		if got := eval[string](b, `document.querySelector("#total-lag").innerText`); got != "0" {
			t.Errorf("total lag %s after the reset to latest, want 0", got)
		}
		b.checkPage("reset")
	})
}
