/**
 * Passwords refused at registration and password change, compared lowercased. A short list of the
 * most common choices that pass the length rule; see the README's security section for its source.
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set([
  '12345678', '123456789', '1234567890', '12345678910', '87654321', '11111111', '00000000', '88888888',
  '11223344', '12341234', '12121212', '123123123', '1q2w3e4r', '1qaz2wsx', 'qwertyuiop', 'qwerty123',
  'qwerty12', 'qwertyui', 'asdfghjk', 'asdfghjkl', 'zxcvbnm1', 'password', 'password1', 'password12',
  'password123', 'passw0rd', 'p@ssw0rd', 'p@ssword', 'iloveyou', 'iloveyou1', 'sunshine', 'princess',
  'football', 'baseball', 'welcome1', 'welcome123', 'letmein1', 'trustno1', 'superman', 'starwars',
  'whatever', 'computer', 'michelle', 'jennifer', 'corvette', 'mercedes', 'internet', 'firebird',
  'dragon123', 'monkey123', 'abc12345', 'abcd1234', 'abcdefgh', 'aa123456', 'a1234567', 'changeme',
  'admin123', 'administrator', 'qazwsxedc', 'zaq12wsx', '1q2w3e4r5t', 'q1w2e3r4', 'q1w2e3r4t5',
  'football1', 'baseball1', 'shadow123', 'master123', 'jordan23', 'liverpool', 'chelsea1', 'arsenal1',
  'pokemon1', 'blink182', 'michael1', 'jessica1', 'charlie1', 'access14', 'mustang1', 'samsung1',
  'qwerty1234', 'password!', 'welcome!', 'secret123', 'test1234', 'testtest', 'todo-auth', 'todoauth',
])
