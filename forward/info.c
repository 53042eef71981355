#include "info.h"

#include <inttypes.h>
#include <string.h>

#include "arch.h"

static void human(char *buf, size_t len, uint64_t bytes)
{
	if (bytes >= 10ull << 20)
		snprintf(buf, len, "%.1f MiB", bytes / 1048576.0);
	else if (bytes >= 10ull << 10)
		snprintf(buf, len, "%.1f KiB", bytes / 1024.0);
	else
		snprintf(buf, len, "%" PRIu64 " B", bytes);
}

void print_model_info(FILE *out, const struct gguf *g, const struct hparams *hp, int verbose)
{
	uint64_t count[GGML_NTYPES] = {0}, bytes[GGML_NTYPES] = {0}, elems[GGML_NTYPES] = {0};
	uint64_t total = 0, total_elems = 0;
	struct gguf_value tokens;
	struct gguf_str s;
	char buf[160];

	fprintf(out, "file             %s\n", g->path);
	fprintf(out, "gguf version     %u\n", g->version);
	fprintf(out, "file size        %" PRIu64 " bytes\n", g->size);
	fprintf(out, "alignment        %u\n", g->alignment);
	fprintf(out, "metadata keys    %" PRIu64 "\n", g->n_kv);
	if (gguf_get_str(g, "general.architecture", &s) == 1)
		fprintf(out, "architecture     %.*s\n", (int)s.len, s.s);
	arch_names(buf, sizeof buf);
	fprintf(out, "supported        %s\n", buf);
	if (hp) {
		if (hp->name[0])
			fprintf(out, "name             %s\n", hp->name);
		fprintf(out, "context length   %u\n", hp->n_ctx_train);
		fprintf(out, "embedding        %u\n", hp->n_embd);
		fprintf(out, "layers           %u\n", hp->n_layer);
		fprintf(out, "feed-forward     %u\n", hp->n_ff);
		fprintf(out, "heads            %u\n", hp->n_head);
		fprintf(out, "kv heads         %u\n", hp->n_head_kv);
		fprintf(out, "head dim         %u\n", hp->head_dim);
		fprintf(out, "rope dims        %u\n", hp->n_rot);
		fprintf(out, "rope base        %g\n", hp->rope_base);
		fprintf(out, "rope mode        %s\n", hp->rope_mode == ROPE_NEOX ? "neox" : "norm");
		if (hp->rope_scale != 1.0f)
			fprintf(out, "rope scale       %g\n", hp->rope_scale);
		if (hp->n_swa) {
			uint32_t local = 0;
			for (uint32_t l = 0; l < hp->n_layer; l++)
				local += hparams_local(hp, l);
			fprintf(out, "sliding window   %u positions on %u of %u layers\n", hp->n_swa, local, hp->n_layer);
		}
		if (hp->rope_base_swa > 0)
			fprintf(out, "local rope base  %g\n", hp->rope_base_swa);
		fprintf(out, "attention scale  %g\n", hp->att_scale);
		if (hp->embd_scale != 1.0f)
			fprintf(out, "embedding scale  %g\n", hp->embd_scale);
		if (hp->logit_softcap > 0)
			fprintf(out, "logit softcap    %g\n", hp->logit_softcap);
		fprintf(out, "rms epsilon      %g\n", hp->rms_eps);
		fprintf(out, "output           %s\n", hp->tied_output ? "tied to token_embd" : "output.weight");
	}
	if (gguf_get_str(g, "tokenizer.ggml.model", &s) == 1)
		fprintf(out, "tokenizer        %.*s\n", (int)s.len, s.s);
	else
		fprintf(out, "tokenizer        none\n");
	if (gguf_get_str(g, "tokenizer.ggml.pre", &s) == 1)
		fprintf(out, "pre-tokenizer    %.*s\n", (int)s.len, s.s);
	if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &tokens) == 1)
		fprintf(out, "vocabulary       %" PRIu64 "\n", tokens.count);
	if (hp)
		fprintf(out, "embedding rows   %u\n", hp->n_vocab);

	if (verbose) {
		fprintf(out, "\n%-40s %s\n", "KEY", "VALUE");
		for (uint64_t i = 0; i < g->n_kv; i++) {
			gguf_value_format(&g->kv[i].val, buf, sizeof buf);
			fprintf(out, "%-40.*s %s %s\n", (int)g->kv[i].key.len, g->kv[i].key.s,
				gguf_vtype_name(g->kv[i].val.type), buf);
		}
	}

	fprintf(out, "\n%-32s %-7s %-22s %12s\n", "TENSOR", "TYPE", "SHAPE", "BYTES");
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct gguf_tensor *t = &g->tensors[i];
		int o = 0;
		for (uint32_t d = 0; d < t->n_dims; d++)
			o += snprintf(buf + o, sizeof buf - o, "%s%" PRIu64, d ? " x " : "", t->ne[d]);
		fprintf(out, "%-32s %-7s %-22s %12" PRIu64 "\n", t->name, ggml_type_name(t->type), buf, t->nbytes);
		count[t->type]++;
		bytes[t->type] += t->nbytes;
		elems[t->type] += t->nbytes / ggml_type_size(t->type) * ggml_block_size(t->type);
		total += t->nbytes;
	}
	fprintf(out, "\n%-7s %8s %14s %14s %12s %6s\n", "TYPE", "TENSORS", "ELEMENTS", "BYTES", "SIZE", "BPW");
	for (int t = 0; t < GGML_NTYPES; t++) {
		if (!count[t])
			continue;
		human(buf, sizeof buf, bytes[t]);
		fprintf(out, "%-7s %8" PRIu64 " %14" PRIu64 " %14" PRIu64 " %12s %6.2f\n", ggml_type_name(t), count[t],
			elems[t], bytes[t], buf, 8.0 * bytes[t] / elems[t]);
		total_elems += elems[t];
	}
	human(buf, sizeof buf, total);
	fprintf(out, "%-7s %8" PRIu64 " %14" PRIu64 " %14" PRIu64 " %12s %6.2f\n", "total", g->n_tensors, total_elems,
		total, buf, total_elems ? 8.0 * total / total_elems : 0.0);
}
