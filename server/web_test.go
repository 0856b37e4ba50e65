package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/llamago/llamago/internal/testutil"
	"github.com/stretchr/testify/require"
)

// slowStream delays every server-sent event by the current delay, so that the browser test can watch an
// answer grow and stop it before the model ends it. The server under it is unchanged.
type slowStream struct {
	http.ResponseWriter
	delay *atomic.Int64
}

func (w slowStream) Write(b []byte) (int, error) {
	if bytes.HasPrefix(b, []byte("data: ")) {
		time.Sleep(time.Duration(w.delay.Load()))
	}
	return w.ResponseWriter.Write(b)
}

func (w slowStream) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestPageInChromium drives the page in headless Chromium against the built-in model behind an API key:
// it gives the key, chats and sees the answer stream in, stops an answer (and the server frees its
// sequence), draws the attention of "The cat sat on the mat" (every layer × head), fits a phone's width,
// and the console stays free of errors. LLAMAGO_SCREENSHOTS=1 writes docs/web-chat.png and
// docs/web-attention.png.
func TestPageInChromium(t *testing.T) {
	bin := testutil.Chromium(t)
	ts := newTestServer(t, serverConfig{key: "s3cret", chat: plainChat})
	var delay atomic.Int64
	delay.Store(int64(15 * time.Millisecond))
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.srv.ServeHTTP(slowStream{w, &delay}, r)
	}))
	defer web.Close()

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860),
		chromedp.Flag("disable-gpu", true))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx)) // start the browser before the deadline below
	var mu sync.Mutex
	var problems []string
	browser := ctx // the goroutine's own copy: ctx is reassigned below
	go func() {
		for m, err := range chromedp.Console(browser) {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
				continue
			}
			if m.Source == "network" && (strings.Contains(m.Text, "status of 401") || strings.Contains(m.Text, "status of 413")) {
				continue // asked for on purpose below: the first request before the key, the capture too large
			}
			mu.Lock()
			problems = append(problems, m.String())
			mu.Unlock()
		}
	}()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()
	eval := func(expr string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr))
		require.NoError(t, err, expr)
		return v
	}
	wait := func(expr string, within time.Duration) {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Poll[any](expr, chromedp.WithPollingTimeout(within), chromedp.WithPollingInterval(10*time.Millisecond)))
		require.NoError(t, err, "waiting for %s", expr)
	}
	shots := os.Getenv("LLAMAGO_SCREENSHOTS") == "1"
	shot := func(name string) {
		if !shots {
			return
		}
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("..", "docs", name), b, 0o644))
	}

	// The key: asked once, then every call carries it.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(web.URL+"/"), chromedp.WaitVisible("#key-input"),
		chromedp.SendKeys("#key-input", "s3cret"), chromedp.Click("#key-save")))
	wait(`document.body.dataset.state === "ready"`, 10*time.Second)
	require.Contains(t, eval(`document.getElementById("model-name").textContent`), "stories")

	// Settings: a long enough answer to watch and stop.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#settings-open"), chromedp.WaitVisible("#set-max_tokens"),
		chromedp.SetValue("#set-max_tokens", "200"), chromedp.SetValue("#set-temperature", "0"),
		chromedp.Click(`#settings-form button[value="save"]`)))
	require.Equal(t, 200.0, eval(`JSON.parse(localStorage.getItem("llamago.settings")).max_tokens`))

	// Chat: Enter sends; the answer grows while it streams, then shows its speed.
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys("#input", "Once upon a time\r")))
	wait(`(document.querySelector(".msg.assistant.streaming .body")?.textContent || "").length > 0`, 20*time.Second)
	first := eval(`document.querySelector(".msg.assistant .body").textContent.length`).(float64)
	wait(fmt.Sprintf(`document.querySelector(".msg.assistant .body").textContent.length > %d`, int(first)), 10*time.Second)
	require.Equal(t, "true", eval(`document.body.dataset.busy`), "the answer was still streaming while it grew")
	wait(`document.body.dataset.busy === "false"`, 30*time.Second)
	stats := eval(`document.querySelector(".msg.assistant .stats").textContent`).(string)
	require.Regexp(t, `^\d+ tokens · first token \d+ ms · [\d.]+ tokens/s`, stats)
	require.NotEmpty(t, eval(`document.querySelector(".msg.assistant .body").textContent`))
	shot("web-chat.png")

	// Stop: the answer ends at once, marked stopped, and the server frees the sequence.
	delay.Store(int64(150 * time.Millisecond))
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys("#input", "The little dog\r")))
	wait(`document.querySelectorAll(".msg.assistant").length === 2 && (document.querySelector(".msg.assistant.streaming .body")?.textContent || "").length > 0`, 20*time.Second)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#stop")))
	wait(`document.body.dataset.busy === "false"`, 5*time.Second)
	require.Equal(t, 1.0, eval(`document.querySelectorAll(".msg.assistant")[1].querySelectorAll(".stopped").length`))
	require.Eventually(t, func() bool { st := ts.model.Scheduler.Stats(); return st.Running == 0 && st.Waiting == 0 },
		5*time.Second, 10*time.Millisecond, "the server freed the stopped answer's sequence")
	delay.Store(0)
	// Kept in local storage: a reload shows the conversation again.
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	wait(`document.body.dataset.state === "ready" && document.querySelectorAll(".msg").length === 4`, 10*time.Second)

	// Attention of "The cat sat on the mat": every layer × head drew.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#tab-attn"), chromedp.WaitVisible("#attn-text"),
		chromedp.SetValue("#attn-text", "The cat sat on the mat"), chromedp.Click("#attn-go")))
	wait(`document.getElementById("attn-view").dataset.state === "done"`, 20*time.Second)
	require.Equal(t, "head,model,rollout,token", eval(`document.getElementById("attn-view").dataset.rendered`))
	require.Equal(t, "40", eval(`document.getElementById("attn-view").dataset.maps`), "5 layers × 8 heads")
	// Each map has colour on it, and in the head view every head of every layer has lines.
	drawn := eval(`(() => {
		const v = document.getElementById("attn-view"), out = {maps: 0, heads: 0};
		for (const c of v.querySelectorAll(".av-grid canvas[data-head]")) {
			const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
			let coloured = 0;
			for (let i = 0; i < d.length; i += 4) if (!(d[i] === d[i+1] && d[i+1] === d[i+2])) coloured++;
			if (coloured > c.width * c.height / 4) out.maps++;
		}
		const sel = v.querySelector(".av-layer");
		for (const o of sel.options) {
			sel.value = o.value; sel.dispatchEvent(new Event("change"));
			for (const b of v.querySelectorAll(".av-head-toggle"))
				if (v.querySelectorAll('line[data-head="' + b.textContent + '"]').length > 0) out.heads++;
		}
		sel.value = "0"; sel.dispatchEvent(new Event("change"));
		return out;
	})()`).(map[string]any)
	require.Equal(t, 40.0, drawn["maps"], "every map has colour")
	require.Equal(t, 40.0, drawn["heads"], "every head of every layer has lines in the head view")
	// Hovering a token focuses it: only its lines remain.
	all := eval(`document.querySelectorAll(".av-headview line").length`).(float64)
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const t = [...document.querySelectorAll(".av-headview text")].filter(t => t.textContent === "at")[0];
		t.dispatchEvent(new MouseEvent("mouseenter"));
	})()`)))
	focused := eval(`document.querySelectorAll(".av-headview line").length`).(float64)
	require.Less(t, focused, all)
	require.Greater(t, focused, 0.0)
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector(".av-headview text.dim").dispatchEvent(new MouseEvent("mouseleave"))`)))
	// A map opens large on click and closes.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`.av-grid canvas[data-layer="2"][data-head="3"]`), chromedp.WaitVisible(".av-modal"),
		chromedp.Click(".av-close"), chromedp.WaitNotVisible(".av-modal")))
	eval(`document.getElementById("attn-panel").scrollTop = 0`)
	shot("web-attention.png")

	// Too large: the server's 413 is shown as it says.
	ts.srv.o.MaxAttentionValues = 100
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#attn-go")))
	wait(`document.getElementById("attn-view").dataset.state === "error"`, 10*time.Second)
	require.Contains(t, eval(`document.getElementById("attn-status").textContent`), "Too large")
	ts.srv.o.MaxAttentionValues = 4 << 20

	// From a message of the conversation.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click("#tab-chat"), chromedp.Click(".msg.user .attn")))
	wait(`document.getElementById("attn-view").dataset.state === "done"`, 20*time.Second)
	require.Equal(t, "Once upon a time", eval(`document.getElementById("attn-view").dataset.text`))

	// A phone's width: nothing wider than the screen but the views' own scrolling boxes.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Click("#tab-chat")))
	require.Equal(t, true, eval(`document.documentElement.scrollWidth <= window.innerWidth`))

	time.Sleep(100 * time.Millisecond) // let the last console events arrive
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, problems, "the console has errors")
}
