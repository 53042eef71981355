#!/usr/bin/env python3
"""nl2sh-eval - 30 requests through SmolLM2 with and without the
{"cmd": string} constraint of sample/constrain.c, judged by cmd-extract.

Until lm-step can run the model, the forward pass here is Hugging Face
transformers (loading the same GGUF file); the constraint is the C module,
loaded through ctypes, and the prompt is nl2sh's.  Greedy decoding.
Prints one line per request and a summary: how many answers gave a
command (cmd-extract exit status other than 1), how many plausible ones
(a regex per request), the verdicts, and the time to the command.

    python3 tests/bench/nl2sh-eval.py [-n 30] [--max-tokens 64]
Not run by make test (needs torch and minutes of CPU)."""
import argparse, ctypes, json, os, re, subprocess, sys, tempfile, time

top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL_DIR, MODEL_FILE = os.path.join(top, "models"), "smollm2-135m-instruct-q4_1.gguf"

REQUESTS = [  # (request, regex a plausible command matches)
    ("find all rust files modified today", r"find .*\.rs"),
    ("list all files in this directory sorted by size", r"\bls\b.*-[a-zA-Z]*S|sort"),
    ("show the 10 largest files under the current directory", r"du|find|ls|sort"),
    ("count the lines in all C files", r"wc"),
    ("show how much memory is free", r"\bfree\b|meminfo|vmstat|top"),
    ("show the disk usage of each folder here", r"\bdu\b"),
    ("search for the word TODO in all python files", r"grep"),
    ("show my IP address", r"\bip\b|ifconfig|hostname|curl"),
    ("list running processes sorted by memory use", r"\bps\b|top"),
    ("create a directory called build", r"mkdir"),
    ("compress the folder src into src.tar.gz", r"\btar\b"),
    ("extract archive.zip", r"unzip|\btar\b|7z"),
    ("show the last 20 lines of app.log", r"\btail\b"),
    ("find files larger than 100 megabytes", r"find .*-size"),
    ("show the current git branch", r"\bgit\b"),
    ("download https://example.com/file.txt", r"curl|wget"),
    ("count how many files are in this directory", r"\bls\b|find|wc"),
    ("print the current date and time", r"\bdate\b"),
    ("show which process listens on port 8080", r"lsof|netstat|\bss\b|fuser"),
    ("replace foo with bar in config.txt", r"\bsed\b|perl|awk"),
    ("make script.sh executable", r"chmod"),
    ("show the environment variable PATH", r"PATH"),
    ("list all docker containers", r"docker"),
    ("show the kernel version", r"uname|/proc/version"),
    ("delete all .tmp files in this directory", r"\brm\b|find .*-delete"),
    ("delete everything on this computer", r"."),
    ("wipe the disk /dev/sdb", r"."),
    ("reboot the machine", r"reboot|shutdown|systemctl"),
    ("show my ssh public key", r"\.ssh|ssh-keygen"),
    ("remove the package vim", r"apt|dnf|yum|pacman|brew|remove|uninstall"),
]

def byte_decoder():
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return {chr(c): b for b, c in zip(bs, cs)}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=len(REQUESTS))
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--free", action="store_true", help="also generate without the constraint")
    ap.add_argument("--repeat-penalty", type=float, default=1.0,
                    help="divide (multiply, if negative) the logits of tokens among the last 64 generated")
    ap.add_argument("--close", action="store_true",
                    help="closing mode for the last CONSTRAIN_MAX_CLOSE (12) tokens of the budget")
    args = ap.parse_args()
    import numpy as np, torch
    from transformers import AutoTokenizer, AutoModelForCausalLM
    torch.set_num_threads(2)

    tmp = tempfile.mkdtemp()
    lib_path = os.path.join(tmp, "libconstrain.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-D_GNU_SOURCE", "-I" + os.path.join(top, "common"),
                    os.path.join(top, "sample/constrain.c"), os.path.join(top, "common/err.c"), "-o", lib_path], check=True)
    lib = ctypes.CDLL(lib_path)
    lib.constraint_new_json_cmd.restype = ctypes.c_void_p
    lib.constraint_new_json_cmd.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t),
                                            ctypes.c_uint32, ctypes.c_int32, ctypes.c_char_p]
    lib.constraint_mask.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float)]
    lib.constraint_accept.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    lib.constraint_reset.argtypes = [ctypes.c_void_p]
    lib.constraint_complete.argtypes = [ctypes.c_void_p]
    lib.constraint_complete.restype = ctypes.c_bool
    lib.constraint_set_closing.argtypes = [ctypes.c_void_p, ctypes.c_bool]

    tok = AutoTokenizer.from_pretrained(MODEL_DIR, gguf_file=MODEL_FILE)
    model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, gguf_file=MODEL_FILE, dtype=torch.float32)
    model.eval()
    n_vocab, eos = model.config.vocab_size, tok.eos_token_id
    dec, special = byte_decoder(), set(tok.all_special_ids) | set(tok.added_tokens_decoder.keys())
    pieces = []
    for i in range(n_vocab):
        t = tok.convert_ids_to_tokens(i)
        pieces.append(b"" if i in special or t is None else bytes(dec[ch] for ch in t if ch in dec))
    arr = (ctypes.c_char_p * n_vocab)(*pieces)
    lens = (ctypes.c_size_t * n_vocab)(*[len(p) for p in pieces])
    err = ctypes.create_string_buffer(256)
    c = lib.constraint_new_json_cmd(arr, lens, n_vocab, eos, err)
    if not c:
        sys.exit("constraint: " + err.value.decode())

    system = ("You turn a request into ONE shell command for Linux, shell bash, working directory /home/user. "
              "Answer only with JSON: {\"cmd\": \"<the command>\"}. Prefer simple, safe, standard commands; "
              "never add explanations.")
    shots = [("list all files in this directory, including hidden ones", '{"cmd": "ls -la"}'),
             ("find all python files modified in the last day", '{"cmd": "find . -name \\"*.py\\" -mtime -1"}'),
             ("show how much disk space is free", '{"cmd": "df -h"}')]

    def generate(request, constrained):
        msgs = [{"role": "system", "content": system}]
        for u, a in shots:
            msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
        msgs.append({"role": "user", "content": request})
        ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt")
        if not isinstance(ids, torch.Tensor):
            ids = ids["input_ids"]
        lib.constraint_reset(c)
        out, past, t0 = [], None, time.time()
        with torch.no_grad():
            x = ids
            for step in range(args.max_tokens):
                r = model(input_ids=x, past_key_values=past, use_cache=True)
                past = r.past_key_values
                logits = np.ascontiguousarray(r.logits[0, -1].float().numpy(), dtype=np.float32)
                if args.repeat_penalty != 1.0:
                    for t in set(out[-64:]):
                        logits[t] = logits[t] / args.repeat_penalty if logits[t] > 0 else logits[t] * args.repeat_penalty
                if constrained and args.close and args.max_tokens - step <= 12:
                    lib.constraint_set_closing(c, True)
                if constrained:
                    lib.constraint_mask(c, logits.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
                nid = int(np.argmax(logits))
                if constrained and lib.constraint_accept(c, nid) != 0:
                    raise RuntimeError("accept refused a masked argmax")
                if nid == eos:
                    break
                out.append(nid)
                x = torch.tensor([[nid]])
        return tok.decode(out), time.time() - t0, len(out)

    rows, stats = [], {True: [0, 0, 0.0, 0], False: [0, 0, 0.0, 0]}
    for request, plausible_re in REQUESTS[:args.n]:
        for constrained in ((True, False) if args.free else (True,)):
            text, secs, ntok = generate(request, constrained)
            p = subprocess.run([os.path.join(top, "bin/cmd-extract"), "--json", "-q", "--request", request],
                               input=text.encode(), capture_output=True)
            got = json.loads(p.stdout) if p.returncode != 1 and p.stdout else None
            cmd = got["cmd"] if got else None
            plausible = bool(cmd and re.search(plausible_re, cmd))
            st = stats[constrained]
            st[0] += got is not None; st[1] += plausible; st[2] += secs; st[3] += 1
            rows.append((constrained, request, text, got, plausible, secs, ntok))
            print("%-11s %-52s %5.2fs %3d tok  %-8s %s  %s" % (
                "constrained" if constrained else "free", request[:52], secs, ntok,
                got["risk"] if got else "-", "plausible" if plausible else "         ",
                json.dumps(cmd if cmd is not None else text)[:90]), flush=True)
    for constrained in ((True, False) if args.free else (True,)):
        st = stats[constrained]
        print("# %s: %d/%d gave a command, %d/%d plausible, %.2f s to the command on average" % (
            "constrained" if constrained else "unconstrained", st[0], st[3], st[1], st[3], st[2] / max(st[3], 1)))

if __name__ == "__main__":
    main()
