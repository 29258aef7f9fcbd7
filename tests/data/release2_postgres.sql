--
-- PostgreSQL database dump
--

\restrict BUZkD9fn1E3wJD7dn8xQcIIM7kUWyU54NVkfZlDuTuNqgSJJDl9e77WwB0iJ024

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: appointment; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.appointment (
    id integer NOT NULL,
    patient_id integer NOT NULL,
    doctor_id integer NOT NULL,
    date date NOT NULL,
    "time" character varying(5) NOT NULL,
    status character varying(10) NOT NULL,
    reason text,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    minutes integer DEFAULT 30 NOT NULL,
    cancel_reason character varying(500),
    rescheduled_from_date date,
    rescheduled_from_time character varying(5),
    checked_in_at timestamp without time zone
);


--
-- Name: appointment_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.appointment_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: appointment_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.appointment_id_seq OWNED BY public.appointment.id;


--
-- Name: audit_event; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_event (
    id integer NOT NULL,
    at timestamp without time zone NOT NULL,
    actor_id integer,
    actor_role character varying(10),
    action character varying(40) NOT NULL,
    subject_patient_id integer,
    target character varying(80),
    ip character varying(45),
    detail character varying(80)
);


--
-- Name: audit_event_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.audit_event_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: audit_event_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.audit_event_id_seq OWNED BY public.audit_event.id;


--
-- Name: export; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.export (
    id integer NOT NULL,
    task_id character varying(64) NOT NULL,
    requester_id integer NOT NULL,
    scope character varying(10) NOT NULL,
    patient_id integer,
    status character varying(10) NOT NULL,
    rows integer,
    file_name character varying(200),
    file_size bigint,
    error text,
    created_at timestamp without time zone NOT NULL,
    finished_at timestamp without time zone,
    attempts integer NOT NULL,
    started_at timestamp without time zone,
    expired_at timestamp without time zone,
    owner character varying(120)
);


--
-- Name: export_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.export_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: export_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.export_id_seq OWNED BY public.export.id;


--
-- Name: job_run; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.job_run (
    id integer NOT NULL,
    job character varying(100) NOT NULL,
    slot character varying(40) NOT NULL,
    status character varying(10) NOT NULL,
    started_at timestamp without time zone NOT NULL,
    finished_at timestamp without time zone,
    error text,
    detail text,
    owner character varying(120),
    attempts integer NOT NULL
);


--
-- Name: job_run_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.job_run_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: job_run_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.job_run_id_seq OWNED BY public.job_run.id;


--
-- Name: login_failure; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.login_failure (
    id integer NOT NULL,
    key character varying(300) NOT NULL,
    at timestamp without time zone NOT NULL
);


--
-- Name: login_failure_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.login_failure_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: login_failure_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.login_failure_id_seq OWNED BY public.login_failure.id;


--
-- Name: monthly_report; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.monthly_report (
    id integer NOT NULL,
    doctor_id integer NOT NULL,
    month character varying(7) NOT NULL,
    booked integer NOT NULL,
    completed integer NOT NULL,
    cancelled integer NOT NULL,
    no_show integer NOT NULL,
    patients integer NOT NULL,
    html text NOT NULL,
    created_at timestamp without time zone NOT NULL
);


--
-- Name: monthly_report_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.monthly_report_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: monthly_report_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.monthly_report_id_seq OWNED BY public.monthly_report.id;


--
-- Name: outbox_attachment; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outbox_attachment (
    id integer NOT NULL,
    message_id integer NOT NULL,
    filename character varying(200) NOT NULL,
    content_type character varying(100) NOT NULL,
    content bytea NOT NULL
);


--
-- Name: outbox_attachment_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.outbox_attachment_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: outbox_attachment_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.outbox_attachment_id_seq OWNED BY public.outbox_attachment.id;


--
-- Name: outbox_message; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outbox_message (
    id integer NOT NULL,
    dedupe_key character varying(200) NOT NULL,
    "to" character varying(254) NOT NULL,
    subject character varying(300) NOT NULL,
    text_body text NOT NULL,
    html_body text,
    headers text NOT NULL,
    status character varying(10) NOT NULL,
    attempts integer NOT NULL,
    next_attempt_at timestamp without time zone NOT NULL,
    created_at timestamp without time zone NOT NULL,
    sent_at timestamp without time zone,
    error text,
    claimed_by character varying(120),
    claimed_at timestamp without time zone
);


--
-- Name: outbox_message_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.outbox_message_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: outbox_message_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.outbox_message_id_seq OWNED BY public.outbox_message.id;


--
-- Name: password_link; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.password_link (
    token_hash character varying(64) NOT NULL,
    user_id integer NOT NULL,
    purpose character varying(10) NOT NULL,
    password_mark character varying(64) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    expires_at timestamp without time zone NOT NULL,
    used_at timestamp without time zone
);


--
-- Name: patient_search_term; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.patient_search_term (
    id integer NOT NULL,
    term character varying(254) NOT NULL,
    user_id integer NOT NULL
);


--
-- Name: patient_search_term_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.patient_search_term_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: patient_search_term_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.patient_search_term_id_seq OWNED BY public.patient_search_term.id;


--
-- Name: periodic_job_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.periodic_job_state (
    name character varying(100) NOT NULL,
    paused boolean NOT NULL,
    changed_at timestamp without time zone NOT NULL,
    changed_by character varying(254)
);


--
-- Name: report_execution; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.report_execution (
    id integer NOT NULL,
    report_id integer NOT NULL,
    slot character varying(40),
    triggered_by character varying(10) NOT NULL,
    requested_by_id integer,
    task_id character varying(64) NOT NULL,
    status character varying(10) NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    created_at timestamp without time zone NOT NULL,
    started_at timestamp without time zone NOT NULL,
    finished_at timestamp without time zone,
    row_count integer,
    error text,
    file_name character varying(200),
    file_size bigint,
    attempts integer NOT NULL,
    owner character varying(120),
    recipients text,
    mail_pending boolean NOT NULL
);


--
-- Name: report_execution_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.report_execution_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: report_execution_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.report_execution_id_seq OWNED BY public.report_execution.id;


--
-- Name: scheduled_report; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.scheduled_report (
    id integer NOT NULL,
    name character varying(120) NOT NULL,
    kind character varying(20) NOT NULL,
    frequency character varying(10) NOT NULL,
    weekday integer,
    day integer,
    "time" character varying(5) NOT NULL,
    recipients text NOT NULL,
    format character varying(4) NOT NULL,
    subject character varying(200),
    body text,
    active boolean NOT NULL,
    next_run_at timestamp without time zone,
    created_by_id integer,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);


--
-- Name: scheduled_report_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.scheduled_report_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: scheduled_report_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.scheduled_report_id_seq OWNED BY public.scheduled_report.id;


--
-- Name: schema_migration; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migration (
    id integer NOT NULL,
    name character varying(255) NOT NULL,
    applied timestamp without time zone NOT NULL
);


--
-- Name: schema_migration_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.schema_migration_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: schema_migration_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.schema_migration_id_seq OWNED BY public.schema_migration.id;


--
-- Name: session; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.session (
    token_hash character varying(64) NOT NULL,
    user_id integer NOT NULL,
    csrf_token character varying(64) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    expires_at timestamp without time zone NOT NULL
);


--
-- Name: task_failure; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.task_failure (
    id integer NOT NULL,
    task_id character varying(64) NOT NULL,
    task character varying(200) NOT NULL,
    arguments bytea,
    error text NOT NULL,
    traceback text,
    failed_at timestamp without time zone NOT NULL,
    retried_at timestamp without time zone
);


--
-- Name: task_failure_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.task_failure_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: task_failure_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.task_failure_id_seq OWNED BY public.task_failure.id;


--
-- Name: time_off; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.time_off (
    id integer NOT NULL,
    doctor_id integer,
    start_date date NOT NULL,
    end_date date NOT NULL,
    start_time character varying(5),
    end_time character varying(5),
    reason character varying(200),
    created_by_id integer,
    created_at timestamp without time zone NOT NULL
);


--
-- Name: time_off_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.time_off_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: time_off_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.time_off_id_seq OWNED BY public.time_off.id;


--
-- Name: treatment; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.treatment (
    id integer NOT NULL,
    appointment_id integer NOT NULL,
    diagnosis text NOT NULL,
    treatment text NOT NULL,
    prescription text,
    created_at timestamp without time zone NOT NULL
);


--
-- Name: treatment_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.treatment_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: treatment_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.treatment_id_seq OWNED BY public.treatment.id;


--
-- Name: treatment_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.treatment_version (
    id integer NOT NULL,
    appointment_id integer NOT NULL,
    number integer NOT NULL,
    diagnosis text NOT NULL,
    treatment text NOT NULL,
    prescription text,
    recorded_by_id integer,
    recorded_at timestamp without time zone NOT NULL
);


--
-- Name: treatment_version_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.treatment_version_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: treatment_version_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.treatment_version_id_seq OWNED BY public.treatment_version.id;


--
-- Name: user; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public."user" (
    id integer NOT NULL,
    email character varying(254),
    password_hash character varying(255) NOT NULL,
    name character varying(200) NOT NULL,
    phone character varying(40),
    role character varying(10) NOT NULL,
    specialization character varying(120),
    reminders_enabled boolean NOT NULL,
    active boolean NOT NULL,
    created_at timestamp without time zone NOT NULL,
    slot_minutes integer DEFAULT 30 NOT NULL,
    date_of_birth date
);


--
-- Name: user_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.user_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: user_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.user_id_seq OWNED BY public."user".id;


--
-- Name: worker_heartbeat; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.worker_heartbeat (
    worker character varying(100) NOT NULL,
    beat_at timestamp without time zone NOT NULL,
    started_at timestamp without time zone NOT NULL,
    periodic boolean NOT NULL,
    token character varying(16)
);


--
-- Name: working_hours; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.working_hours (
    id integer NOT NULL,
    doctor_id integer NOT NULL,
    weekday integer NOT NULL,
    start character varying(5) NOT NULL,
    "end" character varying(5) NOT NULL
);


--
-- Name: working_hours_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.working_hours_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: working_hours_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.working_hours_id_seq OWNED BY public.working_hours.id;


--
-- Name: appointment id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.appointment ALTER COLUMN id SET DEFAULT nextval('public.appointment_id_seq'::regclass);


--
-- Name: audit_event id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_event ALTER COLUMN id SET DEFAULT nextval('public.audit_event_id_seq'::regclass);


--
-- Name: export id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.export ALTER COLUMN id SET DEFAULT nextval('public.export_id_seq'::regclass);


--
-- Name: job_run id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_run ALTER COLUMN id SET DEFAULT nextval('public.job_run_id_seq'::regclass);


--
-- Name: login_failure id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.login_failure ALTER COLUMN id SET DEFAULT nextval('public.login_failure_id_seq'::regclass);


--
-- Name: monthly_report id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.monthly_report ALTER COLUMN id SET DEFAULT nextval('public.monthly_report_id_seq'::regclass);


--
-- Name: outbox_attachment id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox_attachment ALTER COLUMN id SET DEFAULT nextval('public.outbox_attachment_id_seq'::regclass);


--
-- Name: outbox_message id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox_message ALTER COLUMN id SET DEFAULT nextval('public.outbox_message_id_seq'::regclass);


--
-- Name: patient_search_term id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.patient_search_term ALTER COLUMN id SET DEFAULT nextval('public.patient_search_term_id_seq'::regclass);


--
-- Name: report_execution id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.report_execution ALTER COLUMN id SET DEFAULT nextval('public.report_execution_id_seq'::regclass);


--
-- Name: scheduled_report id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scheduled_report ALTER COLUMN id SET DEFAULT nextval('public.scheduled_report_id_seq'::regclass);


--
-- Name: schema_migration id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migration ALTER COLUMN id SET DEFAULT nextval('public.schema_migration_id_seq'::regclass);


--
-- Name: task_failure id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.task_failure ALTER COLUMN id SET DEFAULT nextval('public.task_failure_id_seq'::regclass);


--
-- Name: time_off id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.time_off ALTER COLUMN id SET DEFAULT nextval('public.time_off_id_seq'::regclass);


--
-- Name: treatment id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.treatment ALTER COLUMN id SET DEFAULT nextval('public.treatment_id_seq'::regclass);


--
-- Name: treatment_version id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.treatment_version ALTER COLUMN id SET DEFAULT nextval('public.treatment_version_id_seq'::regclass);


--
-- Name: user id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public."user" ALTER COLUMN id SET DEFAULT nextval('public.user_id_seq'::regclass);


--
-- Name: working_hours id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.working_hours ALTER COLUMN id SET DEFAULT nextval('public.working_hours_id_seq'::regclass);


--
-- Data for Name: appointment; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.appointment (id, patient_id, doctor_id, date, "time", status, reason, created_at, updated_at, minutes, cancel_reason, rescheduled_from_date, rescheduled_from_time, checked_in_at) FROM stdin;
1	2	1	2026-11-03	09:00	completed	Check-up	2026-11-02 09:00:00	2026-11-02 09:00:00	30	\N	\N	\N	\N
2	2	1	2026-11-30	10:30	booked	\N	2026-11-02 09:00:00	2026-11-02 09:00:00	30	\N	\N	\N	\N
\.


--
-- Data for Name: audit_event; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.audit_event (id, at, actor_id, actor_role, action, subject_patient_id, target, ip, detail) FROM stdin;
\.


--
-- Data for Name: export; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.export (id, task_id, requester_id, scope, patient_id, status, rows, file_name, file_size, error, created_at, finished_at, attempts, started_at, expired_at, owner) FROM stdin;
\.


--
-- Data for Name: job_run; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.job_run (id, job, slot, status, started_at, finished_at, error, detail, owner, attempts) FROM stdin;
\.


--
-- Data for Name: login_failure; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.login_failure (id, key, at) FROM stdin;
\.


--
-- Data for Name: monthly_report; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.monthly_report (id, doctor_id, month, booked, completed, cancelled, no_show, patients, html, created_at) FROM stdin;
\.


--
-- Data for Name: outbox_attachment; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.outbox_attachment (id, message_id, filename, content_type, content) FROM stdin;
\.


--
-- Data for Name: outbox_message; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.outbox_message (id, dedupe_key, "to", subject, text_body, html_body, headers, status, attempts, next_attempt_at, created_at, sent_at, error, claimed_by, claimed_at) FROM stdin;
\.


--
-- Data for Name: password_link; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.password_link (token_hash, user_id, purpose, password_mark, created_at, expires_at, used_at) FROM stdin;
\.


--
-- Data for Name: patient_search_term; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.patient_search_term (id, term, user_id) FROM stdin;
\.


--
-- Data for Name: periodic_job_state; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.periodic_job_state (name, paused, changed_at, changed_by) FROM stdin;
\.


--
-- Data for Name: report_execution; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.report_execution (id, report_id, slot, triggered_by, requested_by_id, task_id, status, period_start, period_end, created_at, started_at, finished_at, row_count, error, file_name, file_size, attempts, owner, recipients, mail_pending) FROM stdin;
\.


--
-- Data for Name: scheduled_report; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.scheduled_report (id, name, kind, frequency, weekday, day, "time", recipients, format, subject, body, active, next_run_at, created_by_id, created_at, updated_at) FROM stdin;
\.


--
-- Data for Name: schema_migration; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.schema_migration (id, name, applied) FROM stdin;
1	0001_initial	2026-11-27 21:08:35.504747
2	0002_one_claim_ledger	2026-11-27 21:08:35.522084
3	0003_drop_schema_version	2026-11-27 21:08:35.523325
4	0004_calendar	2026-11-27 21:08:35.531163
5	0005_password_links	2026-11-27 21:08:35.533138
6	0006_patient_details	2026-11-27 21:08:35.536182
7	0007_treatment_versions	2026-11-27 21:08:35.539537
\.


--
-- Data for Name: session; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.session (token_hash, user_id, csrf_token, created_at, expires_at) FROM stdin;
\.


--
-- Data for Name: task_failure; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.task_failure (id, task_id, task, arguments, error, traceback, failed_at, retried_at) FROM stdin;
\.


--
-- Data for Name: time_off; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.time_off (id, doctor_id, start_date, end_date, start_time, end_time, reason, created_by_id, created_at) FROM stdin;
\.


--
-- Data for Name: treatment; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.treatment (id, appointment_id, diagnosis, treatment, prescription, created_at) FROM stdin;
1	1	Seasonal cold	Rest	\N	2026-11-02 09:00:00
\.


--
-- Data for Name: treatment_version; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.treatment_version (id, appointment_id, number, diagnosis, treatment, prescription, recorded_by_id, recorded_at) FROM stdin;
1	1	1	Cold	Rest	\N	1	2026-11-02 09:00:00
\.


--
-- Data for Name: user; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public."user" (id, email, password_hash, name, phone, role, specialization, reminders_enabled, active, created_at, slot_minutes, date_of_birth) FROM stdin;
1	doctor2@example.test	not-a-real-hash	Doctor Two	\N	doctor	General practice	t	t	2026-11-02 09:00:00	30	\N
2	patient2@example.test	not-a-real-hash	Patient Two	+44 20 7946 0000	patient	\N	t	t	2026-11-02 09:00:00	30	\N
3	admin2@example.test	not-a-real-hash	Admin Two	\N	admin	\N	t	t	2026-11-02 09:00:00	30	\N
4	desk2@example.test	not-a-real-hash	Desk Two	\N	reception	\N	t	t	2026-11-02 09:00:00	30	\N
\.


--
-- Data for Name: worker_heartbeat; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.worker_heartbeat (worker, beat_at, started_at, periodic, token) FROM stdin;
\.


--
-- Data for Name: working_hours; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.working_hours (id, doctor_id, weekday, start, "end") FROM stdin;
1	1	0	09:00	17:00
2	1	1	09:00	17:00
3	1	2	09:00	17:00
4	1	3	09:00	17:00
5	1	4	09:00	17:00
\.


--
-- Name: appointment_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.appointment_id_seq', 2, true);


--
-- Name: audit_event_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.audit_event_id_seq', 1, false);


--
-- Name: export_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.export_id_seq', 1, false);


--
-- Name: job_run_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.job_run_id_seq', 1, false);


--
-- Name: login_failure_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.login_failure_id_seq', 1, false);


--
-- Name: monthly_report_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.monthly_report_id_seq', 1, false);


--
-- Name: outbox_attachment_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.outbox_attachment_id_seq', 1, false);


--
-- Name: outbox_message_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.outbox_message_id_seq', 1, false);


--
-- Name: patient_search_term_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.patient_search_term_id_seq', 1, false);


--
-- Name: report_execution_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.report_execution_id_seq', 1, false);


--
-- Name: scheduled_report_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.scheduled_report_id_seq', 1, false);


--
-- Name: schema_migration_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.schema_migration_id_seq', 7, true);


--
-- Name: task_failure_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.task_failure_id_seq', 1, false);


--
-- Name: time_off_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.time_off_id_seq', 1, false);


--
-- Name: treatment_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.treatment_id_seq', 1, true);


--
-- Name: treatment_version_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.treatment_version_id_seq', 1, true);


--
-- Name: user_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.user_id_seq', 4, true);


--
-- Name: working_hours_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.working_hours_id_seq', 5, true);


--
-- Name: appointment appointment_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.appointment
    ADD CONSTRAINT appointment_pkey PRIMARY KEY (id);


--
-- Name: audit_event audit_event_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_event
    ADD CONSTRAINT audit_event_pkey PRIMARY KEY (id);


--
-- Name: export export_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.export
    ADD CONSTRAINT export_pkey PRIMARY KEY (id);


--
-- Name: job_run job_run_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_run
    ADD CONSTRAINT job_run_pkey PRIMARY KEY (id);


--
-- Name: login_failure login_failure_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.login_failure
    ADD CONSTRAINT login_failure_pkey PRIMARY KEY (id);


--
-- Name: monthly_report monthly_report_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.monthly_report
    ADD CONSTRAINT monthly_report_pkey PRIMARY KEY (id);


--
-- Name: outbox_attachment outbox_attachment_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox_attachment
    ADD CONSTRAINT outbox_attachment_pkey PRIMARY KEY (id);


--
-- Name: outbox_message outbox_message_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox_message
    ADD CONSTRAINT outbox_message_pkey PRIMARY KEY (id);


--
-- Name: password_link password_link_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.password_link
    ADD CONSTRAINT password_link_pkey PRIMARY KEY (token_hash);


--
-- Name: patient_search_term patient_search_term_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.patient_search_term
    ADD CONSTRAINT patient_search_term_pkey PRIMARY KEY (id);


--
-- Name: periodic_job_state periodic_job_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.periodic_job_state
    ADD CONSTRAINT periodic_job_state_pkey PRIMARY KEY (name);


--
-- Name: report_execution report_execution_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.report_execution
    ADD CONSTRAINT report_execution_pkey PRIMARY KEY (id);


--
-- Name: scheduled_report scheduled_report_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scheduled_report
    ADD CONSTRAINT scheduled_report_pkey PRIMARY KEY (id);


--
-- Name: schema_migration schema_migration_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migration
    ADD CONSTRAINT schema_migration_pkey PRIMARY KEY (id);


--
-- Name: session session_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.session
    ADD CONSTRAINT session_pkey PRIMARY KEY (token_hash);


--
-- Name: task_failure task_failure_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.task_failure
    ADD CONSTRAINT task_failure_pkey PRIMARY KEY (id);


--
-- Name: time_off time_off_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.time_off
    ADD CONSTRAINT time_off_pkey PRIMARY KEY (id);


--
-- Name: treatment treatment_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.treatment
    ADD CONSTRAINT treatment_pkey PRIMARY KEY (id);


--
-- Name: treatment_version treatment_version_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.treatment_version
    ADD CONSTRAINT treatment_version_pkey PRIMARY KEY (id);


--
-- Name: user user_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public."user"
    ADD CONSTRAINT user_pkey PRIMARY KEY (id);


--
-- Name: worker_heartbeat worker_heartbeat_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.worker_heartbeat
    ADD CONSTRAINT worker_heartbeat_pkey PRIMARY KEY (worker);


--
-- Name: working_hours working_hours_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.working_hours
    ADD CONSTRAINT working_hours_pkey PRIMARY KEY (id);


--
-- Name: appointment_date_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX appointment_date_status ON public.appointment USING btree (date, status);


--
-- Name: appointment_doctor_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX appointment_doctor_id ON public.appointment USING btree (doctor_id);


--
-- Name: appointment_doctor_id_date_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX appointment_doctor_id_date_time ON public.appointment USING btree (doctor_id, date, "time");


--
-- Name: appointment_doctor_slot_booked; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX appointment_doctor_slot_booked ON public.appointment USING btree (doctor_id, date, "time") WHERE ((status)::text = 'booked'::text);


--
-- Name: appointment_patient_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX appointment_patient_id ON public.appointment USING btree (patient_id);


--
-- Name: appointment_patient_id_date_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX appointment_patient_id_date_time ON public.appointment USING btree (patient_id, date, "time");


--
-- Name: appointment_patient_slot_booked; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX appointment_patient_slot_booked ON public.appointment USING btree (patient_id, date, "time") WHERE ((status)::text = 'booked'::text);


--
-- Name: audit_event_action_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_event_action_at ON public.audit_event USING btree (action, at);


--
-- Name: audit_event_actor_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_event_actor_id ON public.audit_event USING btree (actor_id);


--
-- Name: audit_event_actor_id_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_event_actor_id_at ON public.audit_event USING btree (actor_id, at);


--
-- Name: audit_event_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_event_at ON public.audit_event USING btree (at);


--
-- Name: audit_event_subject_patient_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_event_subject_patient_id ON public.audit_event USING btree (subject_patient_id);


--
-- Name: audit_event_subject_patient_id_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_event_subject_patient_id_at ON public.audit_event USING btree (subject_patient_id, at);


--
-- Name: export_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX export_created_at ON public.export USING btree (created_at);


--
-- Name: export_patient_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX export_patient_id ON public.export USING btree (patient_id);


--
-- Name: export_requester_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX export_requester_id ON public.export USING btree (requester_id);


--
-- Name: export_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX export_status ON public.export USING btree (status);


--
-- Name: export_task_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX export_task_id ON public.export USING btree (task_id);


--
-- Name: job_run_job_slot; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX job_run_job_slot ON public.job_run USING btree (job, slot);


--
-- Name: login_failure_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX login_failure_at ON public.login_failure USING btree (at);


--
-- Name: login_failure_key; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX login_failure_key ON public.login_failure USING btree (key);


--
-- Name: monthly_report_doctor_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX monthly_report_doctor_id ON public.monthly_report USING btree (doctor_id);


--
-- Name: monthly_report_doctor_id_month; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX monthly_report_doctor_id_month ON public.monthly_report USING btree (doctor_id, month);


--
-- Name: outbox_attachment_message_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outbox_attachment_message_id ON public.outbox_attachment USING btree (message_id);


--
-- Name: outbox_message_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outbox_message_created_at ON public.outbox_message USING btree (created_at);


--
-- Name: outbox_message_dedupe_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX outbox_message_dedupe_key ON public.outbox_message USING btree (dedupe_key);


--
-- Name: outbox_message_next_attempt_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outbox_message_next_attempt_at ON public.outbox_message USING btree (next_attempt_at);


--
-- Name: outbox_message_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outbox_message_status ON public.outbox_message USING btree (status);


--
-- Name: password_link_user_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX password_link_user_id ON public.password_link USING btree (user_id);


--
-- Name: patient_search_term_term_user_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX patient_search_term_term_user_id ON public.patient_search_term USING btree (term, user_id);


--
-- Name: patient_search_term_user_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX patient_search_term_user_id ON public.patient_search_term USING btree (user_id);


--
-- Name: report_execution_mail_pending; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_execution_mail_pending ON public.report_execution USING btree (mail_pending);


--
-- Name: report_execution_report_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_execution_report_id ON public.report_execution USING btree (report_id);


--
-- Name: report_execution_report_id_slot; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX report_execution_report_id_slot ON public.report_execution USING btree (report_id, slot);


--
-- Name: report_execution_requested_by_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_execution_requested_by_id ON public.report_execution USING btree (requested_by_id);


--
-- Name: report_execution_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX report_execution_status ON public.report_execution USING btree (status);


--
-- Name: report_execution_task_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX report_execution_task_id ON public.report_execution USING btree (task_id);


--
-- Name: scheduled_report_created_by_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX scheduled_report_created_by_id ON public.scheduled_report USING btree (created_by_id);


--
-- Name: scheduled_report_next_run_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX scheduled_report_next_run_at ON public.scheduled_report USING btree (next_run_at);


--
-- Name: schema_migration_name; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX schema_migration_name ON public.schema_migration USING btree (name);


--
-- Name: session_expires_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX session_expires_at ON public.session USING btree (expires_at);


--
-- Name: session_user_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX session_user_id ON public.session USING btree (user_id);


--
-- Name: task_failure_failed_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX task_failure_failed_at ON public.task_failure USING btree (failed_at);


--
-- Name: task_failure_task_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX task_failure_task_id ON public.task_failure USING btree (task_id);


--
-- Name: time_off_created_by_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX time_off_created_by_id ON public.time_off USING btree (created_by_id);


--
-- Name: time_off_doctor_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX time_off_doctor_id ON public.time_off USING btree (doctor_id);


--
-- Name: time_off_end_date_start_date; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX time_off_end_date_start_date ON public.time_off USING btree (end_date, start_date);


--
-- Name: treatment_appointment_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX treatment_appointment_id ON public.treatment USING btree (appointment_id);


--
-- Name: treatment_version_appointment_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX treatment_version_appointment_id ON public.treatment_version USING btree (appointment_id);


--
-- Name: treatment_version_appointment_id_number; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX treatment_version_appointment_id_number ON public.treatment_version USING btree (appointment_id, number);


--
-- Name: treatment_version_recorded_by_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX treatment_version_recorded_by_id ON public.treatment_version USING btree (recorded_by_id);


--
-- Name: user_email; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX user_email ON public."user" USING btree (email);


--
-- Name: user_role; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX user_role ON public."user" USING btree (role);


--
-- Name: worker_heartbeat_beat_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX worker_heartbeat_beat_at ON public.worker_heartbeat USING btree (beat_at);


--
-- Name: working_hours_doctor_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX working_hours_doctor_id ON public.working_hours USING btree (doctor_id);


--
-- Name: working_hours_doctor_id_weekday; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX working_hours_doctor_id_weekday ON public.working_hours USING btree (doctor_id, weekday);


--
-- Name: appointment appointment_doctor_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.appointment
    ADD CONSTRAINT appointment_doctor_id_fkey FOREIGN KEY (doctor_id) REFERENCES public."user"(id) ON DELETE CASCADE;


--
-- Name: appointment appointment_patient_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.appointment
    ADD CONSTRAINT appointment_patient_id_fkey FOREIGN KEY (patient_id) REFERENCES public."user"(id) ON DELETE CASCADE;


--
-- Name: audit_event audit_event_actor_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_event
    ADD CONSTRAINT audit_event_actor_id_fkey FOREIGN KEY (actor_id) REFERENCES public."user"(id) ON DELETE SET NULL;


--
-- Name: audit_event audit_event_subject_patient_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_event
    ADD CONSTRAINT audit_event_subject_patient_id_fkey FOREIGN KEY (subject_patient_id) REFERENCES public."user"(id) ON DELETE SET NULL;


--
-- Name: export export_patient_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.export
    ADD CONSTRAINT export_patient_id_fkey FOREIGN KEY (patient_id) REFERENCES public."user"(id) ON DELETE CASCADE;


--
-- Name: export export_requester_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.export
    ADD CONSTRAINT export_requester_id_fkey FOREIGN KEY (requester_id) REFERENCES public."user"(id) ON DELETE CASCADE;


--
-- Name: monthly_report monthly_report_doctor_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.monthly_report
    ADD CONSTRAINT monthly_report_doctor_id_fkey FOREIGN KEY (doctor_id) REFERENCES public."user"(id) ON DELETE CASCADE;


--
-- Name: outbox_attachment outbox_attachment_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox_attachment
    ADD CONSTRAINT outbox_attachment_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.outbox_message(id) ON DELETE CASCADE;


--
-- Name: password_link password_link_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.password_link
    ADD CONSTRAINT password_link_user_id_fkey FOREIGN KEY (user_id) REFERENCES public."user"(id) ON DELETE CASCADE;


--
-- Name: patient_search_term patient_search_term_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.patient_search_term
    ADD CONSTRAINT patient_search_term_user_id_fkey FOREIGN KEY (user_id) REFERENCES public."user"(id) ON DELETE CASCADE;


--
-- Name: report_execution report_execution_report_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.report_execution
    ADD CONSTRAINT report_execution_report_id_fkey FOREIGN KEY (report_id) REFERENCES public.scheduled_report(id) ON DELETE CASCADE;


--
-- Name: report_execution report_execution_requested_by_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.report_execution
    ADD CONSTRAINT report_execution_requested_by_id_fkey FOREIGN KEY (requested_by_id) REFERENCES public."user"(id) ON DELETE SET NULL;


--
-- Name: scheduled_report scheduled_report_created_by_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.scheduled_report
    ADD CONSTRAINT scheduled_report_created_by_id_fkey FOREIGN KEY (created_by_id) REFERENCES public."user"(id) ON DELETE SET NULL;


--
-- Name: session session_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.session
    ADD CONSTRAINT session_user_id_fkey FOREIGN KEY (user_id) REFERENCES public."user"(id) ON DELETE CASCADE;


--
-- Name: time_off time_off_created_by_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.time_off
    ADD CONSTRAINT time_off_created_by_id_fkey FOREIGN KEY (created_by_id) REFERENCES public."user"(id) ON DELETE SET NULL;


--
-- Name: time_off time_off_doctor_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.time_off
    ADD CONSTRAINT time_off_doctor_id_fkey FOREIGN KEY (doctor_id) REFERENCES public."user"(id) ON DELETE CASCADE;


--
-- Name: treatment treatment_appointment_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.treatment
    ADD CONSTRAINT treatment_appointment_id_fkey FOREIGN KEY (appointment_id) REFERENCES public.appointment(id) ON DELETE CASCADE;


--
-- Name: treatment_version treatment_version_appointment_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.treatment_version
    ADD CONSTRAINT treatment_version_appointment_id_fkey FOREIGN KEY (appointment_id) REFERENCES public.appointment(id) ON DELETE CASCADE;


--
-- Name: treatment_version treatment_version_recorded_by_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.treatment_version
    ADD CONSTRAINT treatment_version_recorded_by_id_fkey FOREIGN KEY (recorded_by_id) REFERENCES public."user"(id) ON DELETE SET NULL;


--
-- Name: working_hours working_hours_doctor_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.working_hours
    ADD CONSTRAINT working_hours_doctor_id_fkey FOREIGN KEY (doctor_id) REFERENCES public."user"(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--

\unrestrict BUZkD9fn1E3wJD7dn8xQcIIM7kUWyU54NVkfZlDuTuNqgSJJDl9e77WwB0iJ024

