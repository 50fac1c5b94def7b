-- wrk script: send `depth` pipelined "GET /" requests per write.
--   wrk -t1 -c32 -d5s -s bench/pipeline.lua http://127.0.0.1:8001/ -- 16
-- wrk counts every response, so Requests/sec is per HTTP request, not per batch.
depth = 16

init = function(args)
   depth = tonumber(args[1]) or depth
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format("GET", "/")
   end
   req = table.concat(r)
end

request = function()
   return req
end
