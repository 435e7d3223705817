-- wrk body for an HTTP load run on a node: one short chat completion per request.
--   wrk -t4 -c16 -d30s -s tests/http/wrk_chat.lua http://127.0.0.1:8080/v1/chat/completions
-- Non-2xx answers are counted by wrk ("Non-2xx or 3xx responses"); TTFT percentiles come from
-- the node's own profiler (`pio stats --node`, or /metrics).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model": "tiny", "max_tokens": 16, "temperature": 0, ' ..
           '"messages": [{"role": "user", "content": "Write one sentence about the sea."}]}'
