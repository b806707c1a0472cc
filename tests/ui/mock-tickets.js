// A stand-in for the Tauri globals of the "My tickets" window (ui/tickets.html), for checking it
// in a plain browser. Tests inject it with Playwright's addInitScript before the page loads;
// tickets.html never references it.
//
// window.__MOCK_TAURI__:
//   calls                  every invoke as {cmd, args, at}
//   callsOf(cmd)           the recorded calls of one command
//   configure(patch)       shallow-merge into the config below (also usable before load through
//                          window.__MOCK_TAURI_CONFIG__)
//   emit(name, payload)    fire an event to the page's listeners (`tickets-changed`, `open-ticket`)
//   listenerCount(name)    how many listeners the page registered for an event
//   data                   the mutable "backend" state: {list, threads}
//   defaultList(), defaultThreads()
//
// config:
//   list              what my_tickets_list returns (4 sample tickets by default; times relative to
//                     now); list.open_ticket (id or null) asks the page to open that thread
//   threads           {ticketId: thread} for my_tickets_thread
//   listError         when set, my_tickets_list rejects with it
//   threadError       when set, my_tickets_thread rejects with it
//   threadDelay       ms before my_tickets_thread settles
//   replyError        when set, my_tickets_reply rejects with it (e.g. {kind:'network', message})
//   replyDelay        ms before my_tickets_reply settles
//   replyAppends      when true (default), a successful reply is added to the stored thread
//   retryError        when set, my_tickets_retry rejects with it
//   refreshEmitAfter  ms after my_tickets_refresh until `tickets-changed` is emitted (null: never)
//   refreshError      when set, my_tickets_refresh rejects with it
(function () {
  'use strict';

  const now = Date.now();
  const ago = (ms) => new Date(now - ms).toISOString();
  const MIN = 60 * 1000; const HOUR = 60 * MIN; const DAY = 24 * HOUR;

  const LIST = {
    company_name: 'Contoso IT',
    accent_color: '#2563eb',
    open_ticket: null,
    tickets: [
      {
        reference: 'HB-20261128-P4N2WD',
        ticket_id: null,
        ticket_number: null,
        subject: 'Printer on the 2nd floor prints blank pages',
        created_at: ago(6 * MIN),
        state: 'pending',
        status: null,
        last_reply: null,
        unread: false,
        last_error: null,
      },
      {
        reference: 'HB-20261128-K3M9QX',
        ticket_id: 123,
        ticket_number: '123',
        subject: 'Outlook keeps asking for my password',
        created_at: ago(2 * HOUR + 10 * MIN),
        state: 'sent',
        status: 'Open',
        last_reply: {
          text: 'Hi Ada, I have reset your mailbox credentials on our side. Could you close Outlook, open it again and sign in with your usual password? If it still asks, reply here and I will connect to your PC.',
          at: ago(25 * MIN),
          by: 'Sam (technician)',
        },
        unread: true,
        last_error: null,
      },
      {
        reference: 'HB-20261127-Z8V5RT',
        ticket_id: null,
        ticket_number: null,
        subject: 'Can’t open the shared drive S:',
        created_at: ago(DAY + 3 * HOUR),
        state: 'failed',
        status: null,
        last_reply: null,
        unread: false,
        last_error: 'Atera refused the API key (401 Unauthorized). Ask your IT provider to check the Helpdesk Button settings.',
      },
      {
        reference: 'HB-20261116-B7C1LM',
        ticket_id: 98,
        ticket_number: '98',
        subject: 'New starter needs a laptop and an email account',
        created_at: ago(12 * DAY),
        state: 'sent',
        status: 'Closed',
        last_reply: {
          text: 'All set: the laptop is ready at reception and Jordan’s account is active. Closing this one.',
          at: ago(10 * DAY),
          by: 'Priya (technician)',
        },
        unread: false,
        last_error: null,
      },
    ],
  };

  const THREADS = {
    123: {
      ticket_id: 123,
      ticket_number: '123',
      subject: 'Outlook keeps asking for my password',
      status: 'Open',
      comments: [
        { date: ago(2 * HOUR + 10 * MIN), text: 'Since this morning Outlook pops up a password window every few minutes. I type my password and it comes back.\n\nWindows 11, Outlook from Microsoft 365.', from: 'You', is_technician: false },
        { date: ago(HOUR + 40 * MIN), text: 'Thanks Ada, looking into it now. Did you change your password recently?', from: 'Sam Tech', is_technician: true },
        { date: ago(HOUR + 30 * MIN), text: 'Yes, on Monday, when Windows asked me to.', from: 'You', is_technician: false },
        { date: ago(25 * MIN), text: 'Hi Ada, I have reset your mailbox credentials on our side. Could you close Outlook, open it again and sign in with your usual password? If it still asks, reply here and I will connect to your PC.', from: 'Sam Tech', is_technician: true },
      ],
    },
    98: {
      ticket_id: 98,
      ticket_number: '98',
      subject: 'New starter needs a laptop and an email account',
      status: 'Closed',
      comments: [
        { date: ago(12 * DAY), text: 'Jordan starts on Monday and needs a laptop and an email address.', from: 'You', is_technician: false },
        { date: ago(10 * DAY), text: 'All set: the laptop is ready at reception and Jordan’s account is active. Closing this one.', from: 'Priya Tech', is_technician: true },
      ],
    },
  };

  const clone = (x) => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));

  const config = Object.assign({
    list: clone(LIST),
    threads: clone(THREADS),
    listError: null,
    threadError: null,
    threadDelay: 0,
    replyError: null,
    replyDelay: 0,
    replyAppends: true,
    retryError: null,
    refreshEmitAfter: 300,
    refreshError: null,
  }, window.__MOCK_TAURI_CONFIG__ || {});

  const listeners = {};
  const calls = [];
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));

  function emit(name, payload) {
    for (const cb of (listeners[name] || []).slice()) {
      try { cb({ event: name, id: 1, payload }); } catch (e) { console.error(e); }
    }
  }

  async function invoke(cmd, args) {
    calls.push({ cmd, args: clone(args), at: Date.now() });
    await wait(5);
    switch (cmd) {
      case 'my_tickets_list':
        if (config.listError) throw clone(config.listError);
        return clone(config.list);
      case 'my_tickets_thread': {
        if (config.threadDelay) await wait(config.threadDelay);
        if (config.threadError) throw clone(config.threadError);
        const id = args && args.ticketId;
        const th = config.threads[id];
        if (!th) throw { kind: 'not_found', message: `No ticket #${id}.` };
        const t = (config.list.tickets || []).find((x) => x.ticket_id === id);
        if (t) t.unread = false; // opening marks it read
        return clone(th);
      }
      case 'my_tickets_reply': {
        if (config.replyDelay) await wait(config.replyDelay);
        if (config.replyError) throw clone(config.replyError);
        const text = args && typeof args.text === 'string' ? args.text : '';
        if (!text.trim()) throw { kind: 'invalid', message: 'Write your reply first.' };
        const th = config.threads[args.ticketId];
        if (!th) throw { kind: 'atera', message: `Atera has no ticket #${args.ticketId}.` };
        if (config.replyAppends) th.comments.push({ date: new Date().toISOString(), text, from: 'You', is_technician: false });
        return { ok: true };
      }
      case 'my_tickets_retry': {
        if (config.retryError) throw clone(config.retryError);
        const t = (config.list.tickets || []).find((x) => x.reference === (args && args.reference));
        if (t) { t.state = 'pending'; t.last_error = null; }
        return null;
      }
      case 'my_tickets_refresh':
        if (config.refreshError) throw clone(config.refreshError);
        if (config.refreshEmitAfter !== null && config.refreshEmitAfter !== undefined) {
          setTimeout(() => emit('tickets-changed', null), config.refreshEmitAfter);
        }
        return null;
      default:
        throw { kind: 'internal', message: `mock: unknown command ${cmd}` };
    }
  }

  async function listen(name, cb) {
    (listeners[name] = listeners[name] || []).push(cb);
    return () => { listeners[name] = (listeners[name] || []).filter((x) => x !== cb); };
  }

  window.__TAURI__ = { core: { invoke }, event: { listen } };
  window.__MOCK_TAURI__ = {
    calls,
    config,
    get data() { return { list: config.list, threads: config.threads }; },
    configure(patch) { Object.assign(config, patch); },
    emit,
    listenerCount: (name) => (listeners[name] || []).length,
    callsOf(cmd) { return calls.filter((c) => c.cmd === cmd); },
    defaultList: () => clone(LIST),
    defaultThreads: () => clone(THREADS),
  };
}());
