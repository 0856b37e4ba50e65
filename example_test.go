package llamago_test

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/llamago/llamago"
)

// Load a model and generate from it, streaming the text as it comes.
func Example() {
	m, err := llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	var text strings.Builder
	for tok, err := range m.Generate(context.Background(), "Once upon a time", llamago.GenerateOptions{MaxTokens: 24}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		text.WriteString(tok.Text) // or print it as it comes
	}
	fmt.Println(text.String())
	// Output:
	// , there was a little girl named Lily. She loved to play outside in the p
}

// Many generations on one model at once: the scheduler decodes them together, one forward pass per step
// for all of them, and each gets the text it would get alone.
func Example_concurrent() {
	m, err := llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 2, Parallel: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	prompts := []string{"Once upon a time", "The cat sat on the mat", "Tim had a red ball", "One day, Lily"}
	texts := make([]string, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Go(func() {
			text, _, err := m.GenerateText(context.Background(), p, llamago.GenerateOptions{MaxTokens: 12})
			if err != nil {
				text = err.Error()
			}
			texts[i] = text
		})
	}
	wg.Wait()
	for i, p := range prompts {
		fmt.Printf("%s →%s\n", p, texts[i])
	}
	// Output:
	// Once upon a time →, there was a little girl named Lily. She
	// The cat sat on the mat →ch. The cat was very happy. The cat
	// Tim had a red ball →. He liked to play with his toys.
	// One day, Lily → and Ben were playing in the park
}

// Which earlier tokens does each head attend to? The attention probabilities of every layer and head.
func ExampleModel_Attention() {
	m, err := llamago.Load(llamago.BuiltinModel, llamago.Options{Threads: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	ids, att, err := m.Attention("The cat sat on the mat", nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	last := len(ids) - 1
	row := att.Probs[len(att.Layers)-1][0][last] // last layer, head 0, the last token's row
	best := 0
	for k, p := range row {
		if p > row[best] {
			best = k
		}
	}
	fmt.Printf("%d layers × %d heads over %d tokens\n", len(att.Layers), len(att.Heads), len(ids))
	tok := m.Engine().Tokenizer
	fmt.Printf("in the last layer, head 0, %q attends most to %q\n", tok.Decode(ids[last:], true), tok.Decode(ids[best:best+1], true))
	// Output:
	// 5 layers × 8 heads over 10 tokens
	// in the last layer, head 0, "at" attends most to "<s>"
}
