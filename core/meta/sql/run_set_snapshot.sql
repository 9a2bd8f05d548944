UPDATE ferry.runs SET snapshot = $2 WHERE id = $1::uuid
